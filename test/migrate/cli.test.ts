/**
 * `tenantdb migrate` as CI runs it: the real bin in a subprocess against real tenant databases on
 * the test run's PostgreSQL. Every --json output is parsed and its shape asserted, every exit code
 * asserted, and the README's `down` example is run as written.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { MIGRATION_LOCK_KEY } from "../../src/migrate/lock";
import { dropDeclaredTenant } from "../support/declared-tenants";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, targetOf } from "../support/migration-targets";
import type { TenantTarget } from "../../src/migrate/targets";

const ROOT = path.resolve(__dirname, "../..");
const BIN = path.join(ROOT, "bin/tenantdb.cjs");
const SHIPPED = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];
const EXTRA = "-- migrate:up\nCREATE TABLE core.cli_marker (id int PRIMARY KEY);\n-- migrate:down\nDROP TABLE core.cli_marker;\n";

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs `tenantdb migrate <args>` from `cwd`, not on a terminal, as CI does. */
function migrate(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, "migrate", ...args], { cwd, env: { ...process.env, CI: "1", NO_COLOR: "1", ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

const json = (run: Run) => JSON.parse(run.stdout) as Record<string, unknown> & { tenants: Array<Record<string, unknown>> };

describe("tenantdb migrate (CLI)", function () {
    this.timeout(180_000);
    const ids = ["mig_cli_main", "mig_cli_fresh"];
    let work: string;
    let t: Record<string, TenantTarget>;
    let env: NodeJS.ProcessEnv;
    let targetsFile: string;

    const targetsFor = (name: string, tenants: TenantTarget[], extra: object = {}) => {
        const file = path.join(work, name);
        writeFileSync(
            file,
            JSON.stringify({
                servers: { local: { host: tenants[0].host, port: tenants[0].port, sslmode: "disable" } },
                tenants: tenants.map((target) => ({
                    id: target.tenantId,
                    server: "local",
                    passwordEnv: `${target.tenantId.toUpperCase()}_PW`,
                    seed: { companyName: `Co ${target.tenantId}`, adminEmail: "admin@cli.test", adminPasswordEnv: "CLI_ADMIN_PW" },
                    ...extra,
                })),
            }),
        );
        return file;
    };

    before(async () => {
        work = mkdtempSync(path.join(os.tmpdir(), "tenantdb-migrate-cli-"));
        const fixtures = await createTenants(adminServer(), ids, 2);
        t = Object.fromEntries(fixtures.map((f) => [f.tenantId, targetOf(adminServer(), f)]));
        env = {
            CLI_ADMIN_PW: "cli-admin-password-1",
            ...Object.fromEntries(Object.values(t).map((x) => [`${x.tenantId.toUpperCase()}_PW`, x.password])),
        };
        targetsFile = targetsFor("main.json", [t.mig_cli_main]);
    });
    after(async () => {
        removeMigrationDirs();
        rmSync(work, { recursive: true, force: true });
        for (const id of ids) await dropDeclaredTenant(adminServer(), id);
    });

    it("up --json prints one JSON report: mode, counts, per tenant applied, from and to", async () => {
        const run = await migrate(["up", "--targets", targetsFile, "--json"], work, env);
        assert.equal(run.status, 0, run.stderr);
        const report = json(run);
        assert.deepEqual(Object.keys(report).sort(), ["counts", "dryRun", "durationMs", "mode", "startedAt", "tenants"]);
        assert.equal(report.mode, "up");
        assert.deepEqual(report.counts, { ok: 1, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 0 });
        assert.deepEqual(
            report.tenants.map((r) => [r.tenantId, r.outcome, r.from, r.to, r.applied]),
            [["mig_cli_main", "ok", null, "0004_credentials_withheld", SHIPPED]],
        );
    });

    it("status --json: one document, up to date", async () => {
        const run = await migrate(["status", "--targets", targetsFile, "--json"], work, env);
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(
            json(run).tenants.map((r) => [r.tenantId, r.outcome, r.to]),
            [["mig_cli_main", "up-to-date", "0004_credentials_withheld"]],
        );
    });

    it("history --json lists each applied migration with when and how long; the table too; exit 0", async () => {
        const run = await migrate(["history", "--targets", targetsFile, "--json"], work, env);
        assert.equal(run.status, 0, run.stderr);
        const history = json(run);
        assert.deepEqual(Object.keys(history), ["tenants"]);
        const [tenant] = history.tenants as Array<{
            tenantId: string;
            server: string;
            database: string;
            migrations: Array<Record<string, unknown>>;
        }>;
        assert.deepEqual([tenant.tenantId, tenant.server, tenant.database], ["mig_cli_main", "local", "erp_mig_cli_main"]);
        assert.deepEqual(
            tenant.migrations.map((m) => m.name),
            SHIPPED,
        );
        for (const m of tenant.migrations) {
            assert.deepEqual(Object.keys(m), ["name", "checksum", "appliedAt", "durationMs", "appliedBy"]);
            assert.match(m.appliedAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
            assert.ok(Number.isInteger(m.durationMs) && (m.durationMs as number) >= 0);
            assert.equal(m.appliedBy, "erp_mig_cli_main_migrator");
        }
        const table = await migrate(["history", "--targets", targetsFile], work, env);
        assert.equal(table.status, 0);
        for (const name of SHIPPED) assert.match(table.stdout, new RegExp(`mig_cli_main .*${name}`));
        assert.equal(table.stderr, "");
    });

    it("history of a tenant it cannot reach: the error once, in the table, exit 1", async () => {
        const file = path.join(work, "unreachable.json");
        writeFileSync(
            file,
            JSON.stringify({
                servers: { local: { host: "127.0.0.1", port: 1 } },
                tenants: [{ id: "acme", server: "local", passwordEnv: "ACME_PW" }],
            }),
        );
        const run = await migrate(["history", "--targets", file, "--json"], work, { ACME_PW: "x" });
        assert.equal(run.status, 1);
        const [tenant] = json(run).tenants;
        assert.deepEqual(tenant.migrations, []);
        assert.match(
            tenant.error as string,
            /^tenant acme \(server local\), step "read state": cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)/,
        );
    });

    it("a failed tenant's error is printed once: in the report, not again in the progress line", async () => {
        const file = path.join(work, "unreachable.json");
        const run = await migrate(["up", "--targets", file], work, { ACME_PW: "x" });
        assert.equal(run.status, 1);
        assert.match(run.stdout, /cannot reach PostgreSQL/);
        assert.doesNotMatch(run.stderr, /cannot reach PostgreSQL/);
        assert.match(run.stderr, /^\[1\/1\] acme failed \(empty\) \d+ ms \(the error is in the report\)$/m);
    });

    it("the README's down example reverts the last migration; the old one (--to 0002_reference_data) is refused, also in --dry-run", async () => {
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        const example = /^npm run migrate -- down +--targets targets\.yaml(.*)$/m.exec(readme);
        assert.ok(example, "README.md has a down example");
        assert.equal((await migrate(["up", "--targets", targetsFile], work, env)).status, 0);
        const extra = example[1].replace(/#.*$/, "").trim().split(/\s+/).filter(Boolean);
        const down = await migrate(["down", "--targets", targetsFile, ...extra, "--json"], work, env);
        assert.equal(down.status, 0, down.stdout + down.stderr);
        assert.deepEqual(
            json(down).tenants.map((r) => [r.outcome, r.from, r.to, r.reverted]),
            [["ok", "0004_credentials_withheld", "0003_first_company", ["0004_credentials_withheld"]]],
        );
        const old = await migrate(["down", "--targets", targetsFile, "--to", "0002_reference_data", "--dry-run", "--json"], work, env);
        assert.equal(old.status, 1);
        assert.match(
            json(old).tenants[0].error as string,
            /step "plan": 0003_first_company has no down migration, so the tenant cannot go below it/,
        );
        const up = await migrate(["up", "--targets", targetsFile, "--json"], work, env);
        assert.equal(up.status, 0);
        assert.deepEqual(json(up).tenants[0].applied, ["0004_credentials_withheld"]);
    });

    it("up --dry-run --print-sql: the SQL once per distinct plan, code migrations named, nothing applied", async () => {
        const dir = migrationsWith({ "0005_cli_marker.sql": EXTRA });
        const both = targetsFor("both.json", [t.mig_cli_main, t.mig_cli_fresh]);
        const run = await migrate(["up", "--targets", both, "--migrations", dir, "--dry-run", "--print-sql", "--json"], work, env);
        assert.equal(run.status, 0, run.stderr);
        const report = json(run) as ReturnType<typeof json> & {
            sql: Array<{ tenants: string[]; steps: Array<Record<string, unknown>> }>;
        };
        assert.deepEqual(
            report.tenants.map((r) => [r.tenantId, r.outcome, r.planned]),
            [
                ["mig_cli_main", "pending", ["0005_cli_marker"]],
                ["mig_cli_fresh", "pending", [...SHIPPED, "0005_cli_marker"]],
            ],
        );
        assert.deepEqual(
            report.sql.map((group) => [group.tenants, group.steps.map((s) => [s.name, s.direction, s.kind])]),
            [
                [["mig_cli_main"], [["0005_cli_marker", "up", "sql"]]],
                [
                    ["mig_cli_fresh"],
                    [
                        ["0001_baseline", "up", "sql"],
                        ["0002_reference_data", "up", "sql"],
                        ["0003_first_company", "up", "code"],
                        ["0004_credentials_withheld", "up", "code"],
                        ["0005_cli_marker", "up", "sql"],
                    ],
                ],
            ],
        );
        assert.equal(report.sql[0].steps[0].sql, "CREATE TABLE core.cli_marker (id int PRIMARY KEY);");
        assert.match(
            report.sql[1].steps[2].description as string,
            /^TypeScript migration \(code\): its statements are decided when it runs/,
        );

        const text = await migrate(["up", "--targets", targetsFile, "--migrations", dir, "--dry-run", "--print-sql"], work, env);
        assert.equal(text.status, 0);
        assert.ok(
            text.stdout.endsWith(
                `\n-- tenants: mig_cli_main\n\n-- 0005_cli_marker (up, ${path.relative(work, path.join(dir, "0005_cli_marker.sql"))})\nCREATE TABLE core.cli_marker (id int PRIMARY KEY);\n`,
            ),
            text.stdout,
        );
        const status = await migrate(["status", "--targets", targetsFile, "--json"], work, env);
        assert.equal(json(status).tenants[0].to, "0004_credentials_withheld");

        const refused = await migrate(["up", "--targets", targetsFile, "--print-sql"], work, env);
        assert.deepEqual(refused, {
            status: 1,
            stdout: "",
            stderr: "migrate: --print-sql shows what a plan would execute: use it with up --dry-run or down --dry-run\n",
        });
    });

    it("a tenant skipped for a lock is reported skipped: exit 0, or the --skipped-exit-code given", async () => {
        const dir = migrationsWith({ "0005_cli_marker.sql": EXTRA });
        const holder = new Client({ ...adminServer(), database: t.mig_cli_main.database });
        await holder.connect();
        try {
            await holder.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
            const plain = await migrate(["up", "--targets", targetsFile, "--migrations", dir, "--skip-locked", "--json"], work, env);
            assert.equal(plain.status, 0, plain.stderr);
            const report = json(plain);
            assert.equal((report.counts as Record<string, number>).skipped, 1);
            assert.deepEqual(
                report.tenants.map((r) => [r.outcome, r.to]),
                [["skipped", "0004_credentials_withheld"]],
            );
            assert.match(report.tenants[0].message as string, /another runner/);
            const coded = await migrate(
                ["up", "--targets", targetsFile, "--migrations", dir, "--skip-locked", "--skipped-exit-code", "3", "--json"],
                work,
                env,
            );
            assert.equal(coded.status, 3);
            assert.equal(json(coded).tenants[0].outcome, "skipped");
        } finally {
            await holder.end();
        }
        const bad = await migrate(["up", "--targets", targetsFile, "--skipped-exit-code", "1"], work, env);
        assert.equal(bad.status, 1);
        assert.match(bad.stderr, /--skipped-exit-code must be a whole number from 2 to 125 \(decimal digits only\), got "1"/);
    });

    it("--json with a refused targets file: one JSON document { error } on stdout, the message on stderr, exit 1", async () => {
        const file = path.join(work, "old-ssl.yaml");
        writeFileSync(
            file,
            "servers:\n  local: { host: 127.0.0.1, ssl: true, tls: 1 }\ntenants:\n  - { id: acme, server: local, passwordEnv: NOT_SET_ANYWHERE }\n  - { id: globex, server: nowhere, password: hunter2hunter2 }\n",
        );
        const run = await migrate(["status", "--targets", file, "--json"], work, {});
        assert.equal(run.status, 1);
        // One round: the server's unknown field, and the tenants' own problems (a server with problems is not "missing").
        const message =
            `targets file ${file} has 4 problems:\n` +
            "  - servers.local.tls: is not a known field (known: host, port, sslmode, maxConnections); check its spelling against the targets file in README.md\n" +
            "  - tenants[0].passwordEnv: tenant acme: environment variable NOT_SET_ANYWHERE is not set; export it with the migrator role's password\n" +
            '  - tenants[1].server: tenant globex: server "nowhere" is not in servers and the tenant has no host; add it under servers (known: local)\n' +
            "  - tenants[1].password: tenant globex: password is plain text in the file, but it must be a secret: remove it, put the password in an environment variable and name that variable in passwordEnv (e.g. passwordEnv: GLOBEX_MIGRATOR_PASSWORD)";
        assert.deepEqual(JSON.parse(run.stdout), { error: message });
        assert.equal(run.stderr, `migrate: ${message}\n`);

        writeFileSync(
            file,
            "servers:\n  local: { host: 127.0.0.1, ssl: true }\ntenants:\n  - { id: acme, server: local, passwordEnv: NOT_SET_ANYWHERE }\n  - { id: globex, server: nowhere, password: hunter2hunter2 }\n",
        );
        const all = await migrate(["status", "--targets", file], work, {});
        assert.equal(all.status, 1);
        assert.equal(all.stdout, "");
        assert.equal(
            all.stderr,
            `migrate: targets file ${file} has 4 problems:\n` +
                "  - servers.local.ssl: is replaced by sslmode, the stack config's TLS setting: write sslmode: require (TLS), verify-full (TLS, checking the certificate against PGSSLROOTCERT) or disable, and remove ssl\n" +
                "  - tenants[0].passwordEnv: tenant acme: environment variable NOT_SET_ANYWHERE is not set; export it with the migrator role's password\n" +
                '  - tenants[1].server: tenant globex: server "nowhere" is not in servers and the tenant has no host; add it under servers (known: local)\n' +
                "  - tenants[1].password: tenant globex: password is plain text in the file, but it must be a secret: remove it, put the password in an environment variable and name that variable in passwordEnv (e.g. passwordEnv: GLOBEX_MIGRATOR_PASSWORD)\n",
        );
        assert.doesNotMatch(all.stderr, /hunter2/);
    });
});

/**
 * Three real runner processes (`scripts/migrate.ts up`) on the same tenants, whose migrator role
 * has CONNECTION LIMIT 2 (capacity.ts): the third runner cannot even connect (SQLSTATE 53300,
 * "too many connections for role"). It must behave as if the tenant's lock were busy: wait
 * within --lock-wait, or skip with --skip-locked, and every message names a fix that works.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import type { FleetReport } from "../../src/migrate/fleet";
import type { TenantTarget } from "../../src/migrate/targets";
import { dropDeclaredTenant } from "../support/declared-tenants";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, targetOf } from "../support/migration-targets";

/** Key the test holds in each tenant database: 0005_gated waits for it, so the test decides when it ends. */
const GATE = 4242;
const GATED = `-- tenantdb: lock_timeout=2min statement_timeout=2min\n-- migrate:up\nCREATE TABLE core.gate_marker (id int);\nSELECT pg_advisory_xact_lock(${GATE});\n`;
const TAKEN = "other runners are migrating this tenant, or sessions of that role are open";
const LATEST = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld", "0005_gated"];

interface Run {
    readonly code: number | null;
    readonly report?: FleetReport;
    readonly stderr: string;
}

describe("three migration runners against the migrator's connection limit of 2", function () {
    this.timeout(180_000);
    const ids = ["mig_three_a", "mig_three_b", "mig_three_c"];
    const work = mkdtempSync(path.join(os.tmpdir(), "tenantdb-three-"));
    const targetsFile = path.join(work, "targets.json");
    const env: Record<string, string> = {};
    let targets: TenantTarget[];
    let migrations: string;
    const gates: Client[] = [];

    before(async () => {
        targets = (await createTenants(adminServer(), ids)).map((f) => targetOf(adminServer(), f));
        const server = adminServer();
        writeFileSync(
            targetsFile,
            JSON.stringify({
                servers: { local: { host: server.host, port: server.port } },
                tenants: targets.map((t) => {
                    env[`THREE_${t.tenantId.toUpperCase()}_PASSWORD`] = t.password;
                    env[`THREE_${t.tenantId.toUpperCase()}_ADMIN`] = `admin-${t.tenantId}-correct-horse`;
                    return {
                        id: t.tenantId,
                        server: "local",
                        passwordEnv: `THREE_${t.tenantId.toUpperCase()}_PASSWORD`,
                        seed: {
                            companyName: `Company ${t.tenantId}`,
                            adminEmail: `admin@${t.tenantId.replace(/_/g, "-")}.test`,
                            adminPasswordEnv: `THREE_${t.tenantId.toUpperCase()}_ADMIN`,
                        },
                    };
                }),
            }),
        );
        migrations = migrationsWith({ "0005_gated.sql": GATED });
    });
    after(async () => {
        for (const gate of gates.splice(0)) await gate.end().catch(() => undefined);
        removeMigrationDirs();
        rmSync(work, { recursive: true, force: true });
        for (const id of ids) await dropDeclaredTenant(adminServer(), id);
    });

    /** One runner process; resolves with its exit code and its JSON report. */
    function runner(...args: string[]): Promise<Run> {
        const child = spawn(
            process.execPath,
            ["--import", "tsx", "scripts/migrate.ts", "up", "--json", "--targets", targetsFile, "--migrations", migrations, ...args],
            { cwd: path.resolve(__dirname, "../.."), env: { ...process.env, ...env, CI: "1" }, stdio: ["ignore", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        return new Promise((resolve) =>
            child.on("exit", (code) => resolve({ code, stderr, report: stdout.trim() ? (JSON.parse(stdout) as FleetReport) : undefined })),
        );
    }

    async function closeGates(): Promise<void> {
        for (const target of targets) {
            const gate = new Client({ ...adminServer(), database: target.database });
            await gate.connect();
            await gate.query("SELECT pg_advisory_lock($1)", [GATE]);
            gates.push(gate);
        }
    }

    async function openGates(): Promise<void> {
        for (const gate of gates.splice(0)) await gate.end();
    }

    /** Polls pg_stat_activity until every tenant database has `n` migrator sessions whose query matches. */
    async function until(pattern: string, what: string): Promise<void> {
        const admin = new Client({ ...adminServer(), database: "postgres" });
        await admin.connect();
        try {
            const deadline = Date.now() + 60_000;
            for (;;) {
                const { rows } = await admin.query<{ n: number }>(
                    `SELECT count(DISTINCT datname)::int AS n FROM pg_stat_activity
                      WHERE datname = ANY($1) AND wait_event_type = 'Lock' AND query LIKE $2`,
                    [targets.map((t) => t.database), pattern],
                );
                if (rows[0].n === targets.length) return;
                if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        } finally {
            await admin.end();
        }
    }

    async function migrationRows(database: string): Promise<string[]> {
        const client = new Client({ ...adminServer(), database });
        await client.connect();
        try {
            return (await client.query("SELECT name FROM tenantdb.migrations ORDER BY name, applied_at")).rows.map((r) => r.name);
        } finally {
            await client.end();
        }
    }

    it("a third runner that finds the migrator's connections taken skips with --skip-locked, waits within --lock-wait, and says so", async () => {
        await closeGates();
        // Runner 1 takes the tenants' locks and stops inside 0005_gated: one migrator connection per tenant.
        const first = runner("--lock-wait", "120000");
        await until("%pg_advisory_xact_lock(4242)%", "runner 1 to wait inside 0005_gated");
        // Runner 2 waits for the tenants' migration locks: the second and last migrator connection.
        const second = runner("--lock-wait", "120000");
        await until("SELECT pg_advisory_lock($1::bigint)", "runner 2 to wait for the migration locks");

        const skipping = await runner("--skip-locked");
        const impatient = await runner("--lock-wait", "1500");
        const patient = runner("--lock-wait", "120000");
        await new Promise((resolve) => setTimeout(resolve, 3000));
        await openGates();
        const [done, waited, late] = await Promise.all([first, second, patient]);

        assert.equal(skipping.code, 0, skipping.stderr);
        assert.deepEqual(skipping.report!.counts, { ok: 0, "up-to-date": 0, pending: 0, drift: 0, skipped: 3, failed: 0 });
        for (const result of skipping.report!.tenants) {
            assert.equal(
                result.message,
                `role erp_${result.tenantId}_migrator is at its connection limit (${TAKEN}); skipped it without waiting`,
            );
            assert.equal(result.error, undefined);
        }

        assert.equal(impatient.code, 1);
        assert.deepEqual(impatient.report!.counts, { ok: 0, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 3 });
        for (const result of impatient.report!.tenants) {
            assert.equal(
                result.error,
                `tenant ${result.tenantId} (server local), step "connect": role erp_${result.tenantId}_migrator stayed at its connection limit ` +
                    `for more than 1500 ms (${TAKEN}). ` +
                    "Fix: re-run when the other runners have finished (they may finish the job themselves), or wait longer with --lock-wait <ms>",
            );
        }

        assert.equal(done.code, 0, done.stderr);
        assert.deepEqual(done.report!.counts, { ok: 3, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 0 });
        assert.equal(waited.code, 0, waited.stderr);
        assert.deepEqual(waited.report!.counts, { ok: 0, "up-to-date": 3, pending: 0, drift: 0, skipped: 0, failed: 0 });
        assert.equal(late.code, 0, late.stderr);
        assert.deepEqual(late.report!.counts, { ok: 0, "up-to-date": 3, pending: 0, drift: 0, skipped: 0, failed: 0 });
        for (const result of [...waited.report!.tenants, ...late.report!.tenants]) assert.equal(result.to, "0005_gated");
        for (const target of targets) assert.deepEqual(await migrationRows(target.database), LATEST);
    });

    it("three runners started at once all end well, each tenant migrated exactly once", async () => {
        // Fresh tenants: drop 0005 and its table, so the three have work again.
        for (const target of targets) {
            const client = new Client({ ...adminServer(), database: target.database });
            await client.connect();
            await client.query(
                "DROP TABLE core.gate_marker; DELETE FROM tenantdb.migrations WHERE name = '0005_gated'; COMMENT ON DATABASE " +
                    client.escapeIdentifier(target.database) +
                    " IS NULL",
            );
            await client.end();
        }
        const runs = await Promise.all([runner("--lock-wait", "120000"), runner("--lock-wait", "120000"), runner("--lock-wait", "120000")]);
        for (const run of runs) assert.equal(run.code, 0, run.stderr);
        for (const target of targets) {
            const outcomes = runs.map((run) => run.report!.tenants.find((t) => t.tenantId === target.tenantId)!.outcome).sort();
            assert.deepEqual(outcomes, ["ok", "up-to-date", "up-to-date"]);
            assert.deepEqual(await migrationRows(target.database), LATEST);
        }
    });
});

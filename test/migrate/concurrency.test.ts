import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { loadCatalog } from "../../src/migrate/catalog";
import { runFleet } from "../../src/migrate/fleet";
import type { TenantTarget } from "../../src/migrate/targets";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";

const sleepy = (seconds: number) => `-- migrate:up\nCREATE TABLE core.marker (id int);\nSELECT pg_sleep(${seconds});\n`;

/** Polls the server until `check` holds (the tests wait for states, not for fixed times). */
async function until(check: (admin: Client) => Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
    const admin = new Client({ ...adminServer(), database: "postgres" });
    await admin.connect();
    try {
        const deadline = Date.now() + limitMs;
        while (!(await check(admin))) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    } finally {
        await admin.end();
    }
}

const sleepingIn = (databases: string[]) => async (admin: Client) => {
    const { rows } = await admin.query(
        "SELECT count(DISTINCT datname)::int AS n FROM pg_stat_activity WHERE datname = ANY($1) AND query LIKE '%pg_sleep%' AND state = 'active'",
        [databases],
    );
    return rows[0].n === databases.length;
};

async function migrationsOf(database: string): Promise<string[]> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        return (await client.query("SELECT name FROM tenantdb.migrations ORDER BY name")).rows.map((r) => r.name);
    } finally {
        await client.end();
    }
}

describe("fleet runner: two runners, and a runner killed mid-run", function () {
    this.timeout(120_000);
    const ids = ["mig_conc_a", "mig_conc_b", "mig_conc_c", "mig_kill_a"];
    let targets: TenantTarget[];
    const seed = seedFor(ids);
    const work = mkdtempSync(path.join(os.tmpdir(), "tenantdb-kill-"));

    before(async () => {
        targets = (await createTenants(adminServer(), ids)).map((f) => targetOf(adminServer(), f));
    });
    after(async () => {
        removeMigrationDirs();
        rmSync(work, { recursive: true, force: true });
        for (const id of ids) await dropTenantDatabase(adminServer(), id);
    });

    it("lets the second runner wait for the first, then find each tenant done; skip mode and a short wait say so", async () => {
        const fleet = targets.slice(0, 3);
        const databases = fleet.map((t) => t.database);
        const catalog = loadCatalog(migrationsWith({ "0005_slow.sql": sleepy(3) }));
        const first = runFleet(fleet, { mode: "up", seed, catalog });
        await until(sleepingIn(databases), "the first runner to reach 0005_slow");

        const skipping = await runFleet(fleet, { mode: "up", seed, catalog, lock: { onBusy: "skip", timeoutMs: 0 } });
        const impatient = await runFleet(fleet, { mode: "up", seed, catalog, lock: { onBusy: "wait", timeoutMs: 100 } });
        const second = await runFleet(fleet, { mode: "up", seed, catalog, lock: { onBusy: "wait", timeoutMs: 20_000 } });
        const done = await first;

        assert.deepEqual(done.counts, { ok: 3, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 0 });
        assert.deepEqual(skipping.counts, { ok: 0, "up-to-date": 0, pending: 0, drift: 0, skipped: 3, failed: 0 });
        assert.match(
            skipping.tenants[0].message!,
            /^another runner \(backend pid \d+ \(tenantdb-migrate\)\) is migrating this tenant; skipped it without waiting$/,
        );
        assert.equal(impatient.counts.failed, 3);
        assert.match(
            impatient.tenants[1].error!,
            /step "lock": another runner \(backend pid \d+ \(tenantdb-migrate\)\) held the migration lock for more than 100 ms\. Fix: re-run when the other runner has finished/,
        );
        assert.deepEqual(second.counts, { ok: 0, "up-to-date": 3, pending: 0, drift: 0, skipped: 0, failed: 0 });
        for (const result of second.tenants) {
            assert.equal(result.message, "another runner migrated it meanwhile");
            assert.equal(result.to, "0005_slow");
        }
        for (const database of databases)
            assert.deepEqual(await migrationsOf(database), [
                "0001_baseline",
                "0002_reference_data",
                "0003_first_company",
                "0004_credentials_withheld",
                "0005_slow",
            ]);
    });

    it("leaves nothing half-applied when the runner process is killed, and a re-run finishes", async () => {
        const target = targets[3];
        const targetsFile = path.join(work, "targets.yaml");
        writeFileSync(
            targetsFile,
            JSON.stringify({
                servers: { local: { host: target.host, port: target.port } },
                tenants: [
                    {
                        id: target.tenantId,
                        server: "local",
                        passwordEnv: "KILL_TEST_PASSWORD",
                        seed: { companyName: "Kill Ltd", adminEmail: "admin@kill.test", adminPasswordEnv: "KILL_TEST_ADMIN" },
                    },
                ],
            }),
        );
        const slowDir = migrationsWith({ "0005_slow.sql": sleepy(60) });
        const child = spawn(
            process.execPath,
            ["--import", "tsx", "scripts/migrate.ts", "up", "--targets", targetsFile, "--migrations", slowDir],
            {
                cwd: path.resolve(__dirname, "../.."),
                env: { ...process.env, KILL_TEST_PASSWORD: target.password, KILL_TEST_ADMIN: "kill-test-admin-password", CI: "1" },
                stdio: "ignore",
            },
        );
        const exited = new Promise((resolve) => child.on("exit", resolve));
        await until(sleepingIn([target.database]), "the runner to reach 0005_slow");
        child.kill("SIGKILL");
        await exited;
        // The server notices the dead client (client_connection_check_interval), rolls back, frees the lock.
        await until(async (admin) => {
            const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [target.database]);
            return rows[0].n === 0;
        }, "the killed runner's backend to end");

        assert.deepEqual(await migrationsOf(target.database), [
            "0001_baseline",
            "0002_reference_data",
            "0003_first_company",
            "0004_credentials_withheld",
        ]);
        const client = new Client({ ...adminServer(), database: target.database });
        await client.connect();
        const marker = await client.query("SELECT to_regclass('core.marker') AS t");
        await client.end();
        assert.equal(marker.rows[0].t, null);

        const resumed = await runFleet([target], {
            mode: "up",
            seed,
            catalog: loadCatalog(migrationsWith({ "0005_slow.sql": sleepy(0) })),
        });
        assert.equal(resumed.tenants[0].outcome, "ok");
        assert.equal(resumed.tenants[0].from, "0004_credentials_withheld");
        assert.deepEqual(resumed.tenants[0].applied, ["0005_slow"]);
    });
});

import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { Catalog, loadCatalog } from "../../src/migrate/catalog";
import { runFleet } from "../../src/migrate/fleet";
import type { TenantTarget } from "../../src/migrate/targets";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";

const BASE = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];
/** The `$$` in the strings paired up for the former hand-written lexer, which then saw no COMMIT. */
const BYPASS_UP = "\nCREATE TABLE core.guard_marker (id int);\nSELECT '$$';\nCOMMIT;\nSELECT '$$';\nSELECT 1 / 0;\n";
const BYPASS = `-- migrate:up${BYPASS_UP}`;
/** A COMMIT in a procedure body loads (it is no statement of the migration) and fails at run time, inside the runner's transaction. */
const BODY = `-- migrate:up
CREATE PROCEDURE core.guard_commit() LANGUAGE plpgsql AS $p$
BEGIN
    CREATE TABLE core.guard_body (id int);
    COMMIT;
END
$p$;
CALL core.guard_commit();
`;

/** What a migration may have left behind in the tenant: its rows and the objects the files above create. */
async function stateOf(database: string): Promise<{ applied: string[]; objects: (string | null)[] }> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        const applied = (await client.query("SELECT name FROM tenantdb.migrations ORDER BY name")).rows.map((r) => r.name);
        const { rows } = await client.query(
            "SELECT to_regclass('core.guard_marker')::text AS marker, to_regclass('core.guard_body')::text AS body, " +
                "to_regprocedure('core.guard_commit()')::text AS procedure",
        );
        return { applied, objects: [rows[0].marker, rows[0].body, rows[0].procedure] };
    } finally {
        await client.end();
    }
}

describe("migration transaction guard, on a real server", function () {
    this.timeout(120_000);
    const ids = ["mig_guard_cli", "mig_guard_raw", "mig_guard_body"];
    const seed = seedFor(ids);
    const work = mkdtempSync(path.join(os.tmpdir(), "tenantdb-guard-"));
    let t: Record<string, TenantTarget>;

    before(async () => {
        // One at a time: on a fresh server, tenants applied in parallel can race on the server-wide grants.
        const fixtures = await createTenants(adminServer(), ids, 1);
        t = Object.fromEntries(fixtures.map((f) => [f.tenantId, targetOf(adminServer(), f)]));
        const base = await runFleet(Object.values(t), { mode: "up", seed });
        assert.equal(base.counts.ok, ids.length);
    });
    after(async () => {
        removeMigrationDirs();
        rmSync(work, { recursive: true, force: true });
        for (const id of ids) await dropTenantDatabase(adminServer(), id);
    });

    it("refuses a COMMIT hidden behind '$$' strings before connecting: `migrate up` exits 1, the tenant is unchanged", async () => {
        const target = t.mig_guard_cli;
        const dir = migrationsWith({ "0005_guard.sql": BYPASS });
        const targetsFile = path.join(work, "targets.json");
        writeFileSync(
            targetsFile,
            JSON.stringify({
                servers: { local: { host: target.host, port: target.port } },
                tenants: [{ id: target.tenantId, server: "local", passwordEnv: "GUARD_TEST_PASSWORD" }],
            }),
        );
        const failure = await promisify(execFile)(
            process.execPath,
            ["--import", "tsx", "scripts/migrate.ts", "up", "--targets", targetsFile, "--migrations", dir],
            { cwd: path.resolve(__dirname, "../.."), env: { ...process.env, GUARD_TEST_PASSWORD: target.password, CI: "1" } },
        ).then(
            () => assert.fail("migrate up succeeded"),
            (error: { code: number; stdout: string; stderr: string }) => error,
        );
        assert.equal(failure.code, 1);
        assert.equal(failure.stdout, "");
        assert.equal(
            failure.stderr,
            `migrate: migration file ${path.join(dir, "0005_guard.sql")}: line 4: must not contain "COMMIT": the runner wraps each migration ` +
                "in a transaction with its bookkeeping row. Fix: remove the statement; the migration commits or rolls back as a whole\n",
        );
        assert.deepEqual(await stateOf(target.database), { applied: BASE, objects: [null, null, null] });
    });

    it("would leave that migration half-applied without the guard (a catalog built by hand)", async () => {
        // Why the refusal matters: the server runs the COMMIT, so the table outlives the failure after it.
        const loaded = loadCatalog(migrationsWith({ "0005_guard.sql": "-- migrate:up\nSELECT 1;\n" }));
        const unguarded: Catalog = {
            ...loaded,
            migrations: loaded.migrations.map((m) => (m.name === "0005_guard" ? { ...m, upSql: BYPASS_UP } : m)),
        };
        const report = await runFleet([t.mig_guard_raw], { mode: "up", seed, catalog: unguarded });
        assert.equal(report.tenants[0].outcome, "failed");
        assert.match(report.tenants[0].error!, /step "apply 0005_guard": division by zero/);
        assert.deepEqual(await stateOf(t.mig_guard_raw.database), { applied: BASE, objects: ["core.guard_marker", null, null] });
    });

    it("loads a COMMIT inside a procedure body; the server refuses it inside the runner's transaction and nothing stays", async () => {
        const report = await runFleet([t.mig_guard_body], {
            mode: "up",
            seed,
            catalog: loadCatalog(migrationsWith({ "0005_guard.sql": BODY })),
        });
        assert.equal(report.tenants[0].outcome, "failed");
        assert.match(report.tenants[0].error!, /step "apply 0005_guard": invalid transaction termination/);
        assert.deepEqual(await stateOf(t.mig_guard_body.database), { applied: BASE, objects: [null, null, null] });
    });
});

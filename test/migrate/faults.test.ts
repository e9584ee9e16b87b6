import * as assert from "node:assert/strict";
import { Client } from "pg";
import { freePort } from "../../src/local/embedded-server";
import { loadCatalog } from "../../src/migrate/catalog";
import { runFleet, TenantResult } from "../../src/migrate/fleet";
import type { TenantTarget } from "../../src/migrate/targets";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";

const BASE = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];
const ADD_COLUMN = `-- tenantdb: lock_timeout=300ms statement_timeout=10s
-- migrate:up
ALTER TABLE core.companies ADD COLUMN vat_number text;
-- migrate:down
ALTER TABLE core.companies DROP COLUMN vat_number;
`;

async function migrationsOf(database: string): Promise<string[]> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        const { rows } = await client.query("SELECT name FROM tenantdb.migrations ORDER BY name");
        return rows.map((r) => r.name);
    } finally {
        await client.end();
    }
}

const byId = (results: readonly TenantResult[]) => new Map(results.map((r) => [r.tenantId, r]));

describe("fleet runner: faults are per tenant, the others proceed, a re-run finishes", function () {
    this.timeout(120_000);
    const ids = ["mig_fault_ok1", "mig_fault_ok2", "mig_fault_locked", "mig_fault_badpw", "mig_fault_syntax"];
    let targets: Map<string, TenantTarget>;
    let seed: ReturnType<typeof seedFor>;

    before(async () => {
        const fixtures = await createTenants(adminServer(), ids);
        targets = new Map(fixtures.map((f) => [f.tenantId, targetOf(adminServer(), f)]));
        seed = seedFor([...ids, "mig_fault_missing", "mig_fault_unreach"]);
        await runFleet([targets.get("mig_fault_locked")!], { mode: "up", seed });
    });
    after(async () => {
        removeMigrationDirs();
        for (const id of ids) await dropTenantDatabase(adminServer(), id);
    });

    it("fails the unreachable, the wrong password, the missing database and the locked table, each with its own clear error", async () => {
        const unreachablePort = await freePort();
        const fleet: TenantTarget[] = [
            targets.get("mig_fault_ok1")!,
            { ...targets.get("mig_fault_badpw")!, password: "not-the-password" },
            { ...targets.get("mig_fault_ok1")!, tenantId: "mig_fault_missing", database: "erp_mig_fault_missing" },
            { ...targets.get("mig_fault_ok2")!, tenantId: "mig_fault_unreach", server: "pg-gone", port: unreachablePort },
            targets.get("mig_fault_locked")!,
            targets.get("mig_fault_ok2")!,
        ];
        const catalog = loadCatalog(migrationsWith({ "0005_vat_number.sql": ADD_COLUMN }));
        // Another session holds a lock on core.companies of one tenant for the whole run.
        const holder = new Client({ ...adminServer(), database: "erp_mig_fault_locked" });
        await holder.connect();
        await holder.query("BEGIN; LOCK TABLE core.companies IN ACCESS SHARE MODE");
        let report;
        try {
            report = await runFleet(fleet, { mode: "up", seed, catalog, concurrency: 4, connectionTimeoutMs: 3000 });
        } finally {
            await holder.query("ROLLBACK");
            await holder.end();
        }
        assert.deepEqual(report.counts, { ok: 2, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 4 });
        const results = byId(report.tenants);
        for (const id of ["mig_fault_ok1", "mig_fault_ok2"]) {
            assert.equal(results.get(id)!.outcome, "ok");
            assert.deepEqual(results.get(id)!.applied, [...BASE, "0005_vat_number"]);
        }
        const port = fleet[0].port;
        assert.equal(
            results.get("mig_fault_badpw")!.error,
            'tenant mig_fault_badpw (server local), step "connect": password authentication failed for role erp_mig_fault_badpw_migrator. ' +
                "Fix: check the migrator password of tenant mig_fault_badpw (stack output tenantSecrets.mig_fault_badpw.migratorPassword, or the targets file)",
        );
        assert.equal(
            results.get("mig_fault_missing")!.error,
            'tenant mig_fault_missing (server local), step "connect": database erp_mig_fault_missing does not exist on server local. ' +
                "Fix: provision the tenant first (pulumi up), or remove it from the targets",
        );
        assert.equal(
            results.get("mig_fault_unreach")!.error,
            `tenant mig_fault_unreach (server pg-gone), step "connect": cannot reach PostgreSQL at 127.0.0.1:${unreachablePort} (ECONNREFUSED). ` +
                "Fix: check the host and port of server pg-gone in the targets and that it accepts connections from this machine",
        );
        const locked = results.get("mig_fault_locked")!;
        assert.match(
            locked.error!,
            /^tenant mig_fault_locked \(server local\), step "apply 0005_vat_number": waited longer than lock_timeout \(300ms\) for a lock: canceling statement due to lock timeout/,
        );
        assert.match(locked.error!, /Fix: another transaction holds a lock on a table this migration changes/);
        assert.equal(locked.from, "0004_credentials_withheld");
        assert.equal(locked.to, "0004_credentials_withheld");
        for (const result of report.tenants) assert.equal(result.error?.includes("not-the-password") ?? false, false);
        assert.equal(port > 0, true);

        // Nothing half-applied: the locked tenant is exactly at its previous version.
        assert.deepEqual(await migrationsOf("erp_mig_fault_locked"), BASE);

        // The faults go away; a re-run finishes the job and leaves the others alone.
        const rerun = await runFleet(
            [...targets.values()].filter((t) => t.tenantId !== "mig_fault_syntax"),
            { mode: "up", seed, catalog },
        );
        const again = byId(rerun.tenants);
        assert.equal(again.get("mig_fault_locked")!.outcome, "ok");
        assert.deepEqual(again.get("mig_fault_locked")!.applied, ["0005_vat_number"]);
        assert.equal(again.get("mig_fault_badpw")!.outcome, "ok");
        assert.equal(again.get("mig_fault_ok1")!.outcome, "up-to-date");
        assert.equal(again.get("mig_fault_ok1")!.via, "fingerprint");
    });

    it("names the file and line of a syntax error, keeps the tenant at its version, and applies the corrected file", async () => {
        const target = targets.get("mig_fault_syntax")!;
        const broken = `-- A migration with a typo.
-- migrate:up
CREATE TABLE sales.price_lists (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL
);
CREAT INDEX price_lists_name ON sales.price_lists (name);
`;
        const bad = await runFleet([target], {
            mode: "up",
            seed,
            catalog: loadCatalog(migrationsWith({ "0005_price_lists.sql": broken })),
        });
        const [result] = bad.tenants;
        assert.equal(result.outcome, "failed");
        assert.match(
            result.error!,
            /step "apply 0005_price_lists": syntax error at or near "CREAT" \(.*0005_price_lists\.sql, line 7\)\. Fix: correct the migration file/,
        );
        assert.deepEqual(result.applied, BASE);
        assert.equal(result.to, "0004_credentials_withheld");
        assert.deepEqual(await migrationsOf("erp_mig_fault_syntax"), BASE);
        const client = new Client({ ...adminServer(), database: "erp_mig_fault_syntax" });
        await client.connect();
        const { rows } = await client.query("SELECT to_regclass('sales.price_lists') AS t");
        await client.end();
        assert.equal(rows[0].t, null);

        const fixed = await runFleet([target], {
            mode: "up",
            seed,
            catalog: loadCatalog(migrationsWith({ "0005_price_lists.sql": broken.replace("CREAT ", "CREATE ") })),
        });
        assert.equal(fixed.tenants[0].outcome, "ok");
        assert.deepEqual(fixed.tenants[0].applied, ["0005_price_lists"]);
    });

    it("stops a migration that runs past its statement_timeout and rolls it back", async () => {
        const target = targets.get("mig_fault_ok1")!;
        const slow = "-- tenantdb: statement_timeout=200ms\n-- migrate:up\nCREATE TABLE core.notes (body text);\nSELECT pg_sleep(2);\n";
        const report = await runFleet([target], {
            mode: "up",
            seed,
            catalog: loadCatalog(migrationsWith({ "0005_vat_number.sql": ADD_COLUMN, "0006_notes.sql": slow })),
        });
        assert.equal(report.tenants[0].outcome, "failed");
        assert.match(
            report.tenants[0].error!,
            /step "apply 0006_notes": ran longer than statement_timeout \(200ms\): canceling statement due to statement timeout/,
        );
        assert.deepEqual(await migrationsOf("erp_mig_fault_ok1"), [...BASE, "0005_vat_number"]);
    });
});

import * as assert from "node:assert/strict";
import { Client } from "pg";
import { loadCatalog } from "../../src/migrate/catalog";
import { fleetFailed, runFleet } from "../../src/migrate/fleet";
import { verifyPassword } from "../../src/migrate/password";
import { formatJson, formatTable } from "../../src/migrate/report";
import type { TenantTarget } from "../../src/migrate/targets";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { testServer } from "../support/server";
import { dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";

const ALL = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];

describe("fleet runner: fresh fleet of 20 tenants", function () {
    this.timeout(120_000);
    const ids = Array.from({ length: 20 }, (_, i) => `mig_fleet_${String(i).padStart(2, "0")}`);
    let targets: TenantTarget[];

    before(async () => {
        targets = (await createTenants(adminServer(), ids)).map((f) => targetOf(adminServer(), f));
    });
    after(async () => {
        for (const id of ids) await dropTenantDatabase(testServer(), id);
    });

    it("reports every tenant pending in status before the first run, changing nothing", async () => {
        const report = await runFleet(targets, { mode: "status" });
        assert.deepEqual(report.counts, { ok: 0, "up-to-date": 0, pending: 20, drift: 0, skipped: 0, failed: 0 });
        assert.deepEqual(report.tenants[0].pending, ALL);
        assert.equal(report.tenants[0].from, null);
    });

    it("migrates all 20 from empty to the last migration, then a re-run finds them up to date", async () => {
        const report = await runFleet(targets, { mode: "up", seed: seedFor(ids), concurrency: 6, perServerConcurrency: 4 });
        assert.equal(fleetFailed(report), false, formatTable(report));
        assert.deepEqual(report.counts, { ok: 20, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 0 });
        for (const [i, result] of report.tenants.entries()) {
            assert.equal(result.tenantId, ids[i]);
            assert.equal(result.from, null);
            assert.equal(result.to, "0004_credentials_withheld");
            assert.deepEqual(result.applied, ALL);
            assert.deepEqual(result.pending, []);
        }

        const again = await runFleet(targets, { mode: "up", seed: seedFor(ids) });
        assert.deepEqual(again.counts, { ok: 0, "up-to-date": 20, pending: 0, drift: 0, skipped: 0, failed: 0 });
        assert.deepEqual(again.tenants[7].applied, []);
        assert.deepEqual(
            again.tenants.map((r) => r.via),
            new Array(20).fill("fingerprint"),
        );
        assert.equal(again.tenants[7].from, "0004_credentials_withheld");
        assert.equal(again.tenants[7].to, "0004_credentials_withheld");
    });

    it("records name, checksum and duration of each migration in tenantdb.migrations", async () => {
        const client = new Client({ ...testServer(), database: "erp_mig_fleet_03" });
        await client.connect();
        try {
            const { rows } = await client.query(
                "SELECT name, checksum, duration_ms >= 0 AS timed, applied_by FROM tenantdb.migrations ORDER BY name",
            );
            const catalog = loadCatalog();
            assert.deepEqual(
                rows,
                catalog.migrations.map((m) => ({
                    name: m.name,
                    checksum: m.checksum,
                    timed: true,
                    applied_by: "erp_mig_fleet_03_migrator",
                })),
            );
            const owners = await client.query(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('core','masters','finance','inventory','sales','audit','tenantdb')",
            );
            assert.deepEqual(owners.rows, [{ tableowner: "erp_mig_fleet_03_owner" }]);
        } finally {
            await client.end();
        }
    });

    it("seeds the first company, the default chart and an admin whose password is only stored hashed", async () => {
        const client = new Client({ ...testServer(), database: "erp_mig_fleet_05" });
        await client.connect();
        try {
            const company = await client.query("SELECT code, name, base_currency FROM core.companies");
            assert.deepEqual(company.rows, [{ code: "MAIN", name: "Company mig_fleet_05", base_currency: "USD" }]);
            const accounts = await client.query("SELECT count(*)::int AS n FROM finance.accounts");
            assert.equal(accounts.rows[0].n, 17);
            const users = await client.query("SELECT email, role, password_hash FROM core.users");
            assert.equal(users.rows.length, 1);
            assert.equal(users.rows[0].email, "admin@mig-fleet-05.test");
            assert.equal(users.rows[0].role, "admin");
            assert.match(users.rows[0].password_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
            assert.equal(await verifyPassword("pw-mig_fleet_05-correct-horse", users.rows[0].password_hash), true);
            assert.equal(await verifyPassword("pw-mig_fleet_05-wrong-horse", users.rows[0].password_hash), false);
            // The clear password is nowhere in the database, audit trail included.
            const leaks = await client.query(
                "SELECT count(*)::int AS n FROM audit.log WHERE new_row::text LIKE '%correct-horse%' OR new_row ? 'password_hash'",
            );
            assert.equal(leaks.rows[0].n, 0);
            const audited = await client.query(
                "SELECT count(*)::int AS n FROM audit.log WHERE table_name = 'users' AND operation = 'INSERT'",
            );
            assert.equal(audited.rows[0].n, 1);
        } finally {
            await client.end();
        }
    });

    it("formats the report as a table and as JSON without any password", async () => {
        const report = await runFleet(targets, { mode: "status", only: ["mig_fleet_00", "mig_fleet_01"] });
        const json = JSON.parse(formatJson(report));
        assert.deepEqual(
            json.tenants.map((t: { tenantId: string; outcome: string }) => [t.tenantId, t.outcome]),
            [
                ["mig_fleet_00", "up-to-date"],
                ["mig_fleet_01", "up-to-date"],
            ],
        );
        const table = formatTable(report);
        assert.match(table, /mig_fleet_01 .*up-to-date .*0004_credentials_withheld/);
        for (const target of targets) {
            assert.equal(table.includes(target.password), false);
            assert.equal(formatJson(report).includes(target.password), false);
        }
    });
});

import * as assert from "node:assert/strict";
import { Client } from "pg";
import { seedFirstCompany } from "../../migrations/0003_first_company";
import { loadCatalog } from "../../src/migrate/catalog";
import { runFleet } from "../../src/migrate/fleet";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { dropDeclaredTenant as dropTenantDatabase, TenantFixture } from "../support/declared-tenants";

async function connect(fixture: TenantFixture, role: "app" | "readonly" | "migrator", database = fixture.names.database): Promise<Client> {
    const user = { app: fixture.names.appRole, readonly: fixture.names.readonlyRole, migrator: fixture.names.migratorRole }[role];
    const client = new Client({ ...adminServer(), user, password: fixture.passwords[role], database });
    await client.connect();
    return client;
}

async function sqlState(client: Client, sql: string): Promise<string | undefined> {
    try {
        await client.query(sql);
        return undefined;
    } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        return (error as { code?: string }).code;
    }
}

describe("migrated tenant: roles, ledger balance, audit trail, idempotent seeds", function () {
    this.timeout(60_000);
    const ids = ["mig_role_a", "mig_role_b"];
    let a: TenantFixture;
    let b: TenantFixture;

    before(async () => {
        [a, b] = await createTenants(adminServer(), ids);
        const report = await runFleet([targetOf(adminServer(), a), targetOf(adminServer(), b)], { mode: "up", seed: seedFor(ids) });
        assert.equal(report.counts.ok, 2);
    });
    after(async () => {
        for (const id of ids) await dropTenantDatabase(adminServer(), id);
    });

    it("keeps password hashes out of reach of the readonly role, and not of the app", async () => {
        const readonly = await connect(a, "readonly");
        const app = await connect(a, "app");
        try {
            assert.equal(await sqlState(readonly, "SELECT password_hash FROM core.users"), "42501");
            assert.equal(await sqlState(readonly, "SELECT * FROM core.users"), "42501");
            assert.equal(await sqlState(readonly, "SELECT count(*) FROM core.users WHERE password_hash LIKE 'scrypt$%'"), "42501");
            const { rows } = await readonly.query("SELECT email, display_name, role FROM core.users");
            assert.deepEqual(rows, [{ email: "admin@mig-role-a.test", display_name: "Administrator", role: "admin" }]);
            const hashes = await app.query("SELECT password_hash LIKE 'scrypt$%' AS hashed FROM core.users");
            assert.deepEqual(hashes.rows, [{ hashed: true }]);
        } finally {
            await readonly.end();
            await app.end();
        }
    });

    it("lets the app role read and write business data but not create, alter or drop, nor write the audit trail", async () => {
        const app = await connect(a, "app");
        try {
            await app.query(
                "INSERT INTO masters.customers (company_id, code, name, currency_code) SELECT id, 'C1', 'First Customer', 'EUR' FROM core.companies",
            );
            await app.query("UPDATE masters.customers SET credit_limit = 500 WHERE code = 'C1'");
            const { rows } = await app.query("SELECT code, credit_limit FROM masters.customers");
            assert.deepEqual(rows, [{ code: "C1", credit_limit: "500.00" }]);
            assert.equal(await sqlState(app, "CREATE TABLE core.evil (id int)"), "42501");
            assert.equal(await sqlState(app, "ALTER TABLE core.companies ADD COLUMN evil text"), "42501");
            assert.equal(await sqlState(app, "DROP TABLE masters.customers"), "42501");
            assert.equal(
                await sqlState(app, "INSERT INTO audit.log (schema_name, table_name, operation) VALUES ('x', 'y', 'INSERT')"),
                "42501",
            );
            assert.equal(await sqlState(app, "DELETE FROM audit.log"), "42501");
            assert.equal(await sqlState(app, "DELETE FROM tenantdb.migrations"), "42501");
        } finally {
            await app.end();
        }
    });

    it("records every change with the database role and the ERP user in the audit trail", async () => {
        const app = await connect(a, "app");
        try {
            await app.query(
                "BEGIN; SET LOCAL tenantdb.actor = 'alice@erp'; UPDATE masters.customers SET name = 'Renamed' WHERE code = 'C1'; COMMIT",
            );
            const { rows } = await app.query(
                "SELECT operation, db_role, app_user, old_row->>'name' AS old_name, new_row->>'name' AS new_name FROM audit.log WHERE table_name = 'customers' ORDER BY id",
            );
            assert.deepEqual(rows, [
                { operation: "INSERT", db_role: "erp_mig_role_a_app", app_user: null, old_name: null, new_name: "First Customer" },
                {
                    operation: "UPDATE",
                    db_role: "erp_mig_role_a_app",
                    app_user: null,
                    old_name: "First Customer",
                    new_name: "First Customer",
                },
                {
                    operation: "UPDATE",
                    db_role: "erp_mig_role_a_app",
                    app_user: "alice@erp",
                    old_name: "First Customer",
                    new_name: "Renamed",
                },
            ]);
        } finally {
            await app.end();
        }
    });

    it("refuses an unbalanced journal entry at commit and accepts a balanced one", async () => {
        const app = await connect(a, "app");
        try {
            const entry = `WITH e AS (INSERT INTO finance.journal_entries (company_id, currency_code) SELECT id, 'USD' FROM core.companies RETURNING id, company_id)
                INSERT INTO finance.journal_lines (entry_id, account_id, debit, credit)
                SELECT e.id, acc.id, v.debit, v.credit FROM e, (VALUES ('1100', 100.00, 0), ('4100', 0, $1::numeric)) AS v(code, debit, credit)
                JOIN finance.accounts acc ON acc.code = v.code`;
            await app.query("BEGIN");
            await app.query(entry, ["90.00"]);
            await assert.rejects(app.query("COMMIT"), (error: Error & { code?: string }) => {
                assert.equal(error.code, "23514");
                assert.match(error.message, /^journal entry \d+ is unbalanced: debits 100\.00 <> credits 90\.00$/);
                return true;
            });
            await app.query("BEGIN");
            await app.query(entry, ["100.00"]);
            await app.query("COMMIT");
            const { rows } = await app.query("SELECT sum(debit)::text AS d, sum(credit)::text AS c FROM finance.journal_lines");
            assert.deepEqual(rows, [{ d: "100.00", c: "100.00" }]);
        } finally {
            await app.end();
        }
    });

    it("lets the read-only role read and nothing else", async () => {
        const readonly = await connect(a, "readonly");
        try {
            const { rows } = await readonly.query("SELECT count(*)::int AS n FROM masters.currencies");
            assert.equal(rows[0].n, 8);
            assert.equal(await sqlState(readonly, "INSERT INTO masters.units (code, name, kind) VALUES ('x', 'X', 'count')"), "42501");
            assert.equal(await sqlState(readonly, "UPDATE core.companies SET name = 'x'"), "42501");
            assert.equal(await sqlState(readonly, "CREATE TABLE core.evil (id int)"), "42501");
        } finally {
            await readonly.end();
        }
    });

    it("keeps tenant A's roles out of tenant B's database", async () => {
        for (const role of ["app", "readonly", "migrator"] as const) {
            await assert.rejects(connect(a, role, b.names.database), (error: Error & { code?: string }) => {
                assert.equal(error.code, "42501");
                assert.match(error.message, /^permission denied for database "erp_mig_role_b"$/);
                return true;
            });
        }
    });

    it("re-runs the default data without adding rows or touching the admin's password hash", async () => {
        const migrator = await connect(b, "migrator");
        try {
            const counts = async () =>
                (
                    await migrator.query(
                        `SELECT (SELECT count(*) FROM masters.currencies)::int AS currencies, (SELECT count(*) FROM masters.units)::int AS units,
                            (SELECT count(*) FROM core.companies)::int AS companies, (SELECT count(*) FROM finance.accounts)::int AS accounts,
                            (SELECT string_agg(password_hash, ',') FROM core.users) AS hashes`,
                    )
                ).rows[0];
            const before = await counts();
            assert.deepEqual({ ...before, hashes: undefined }, { currencies: 8, units: 7, companies: 1, accounts: 17, hashes: undefined });
            const reference = loadCatalog().migrations.find((m) => m.name === "0002_reference_data")!;
            await migrator.query(reference.upSql!);
            await seedFirstCompany(migrator, "mig_role_b", seedFor(["mig_role_b"]).mig_role_b);
            assert.deepEqual(await counts(), before);
        } finally {
            await migrator.end();
        }
    });
});

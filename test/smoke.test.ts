import * as assert from "node:assert/strict";
import { Client } from "pg";
import { testServer } from "./support/server";
import { createDeclaredTenant as createTenantDatabase, dropDeclaredTenant as dropTenantDatabase } from "./support/declared-tenants";

describe("test server", () => {
    it("is PostgreSQL 15 with scram auth", async () => {
        const client = new Client({ ...testServer(), database: "postgres" });
        await client.connect();
        const { rows } = await client.query("SELECT current_setting('server_version_num')::int / 10000 AS major");
        await client.end();
        assert.equal(rows[0].major, 15);
    });
});

describe("tenant fixture", () => {
    it("creates a tenant whose migrator creates objects as the owner role", async () => {
        const tenant = await createTenantDatabase(testServer(), "smoke_a");
        const client = new Client({
            ...testServer(),
            user: tenant.names.migratorRole,
            password: tenant.passwords.migrator,
            database: tenant.names.database,
        });
        await client.connect();
        const { rows } = await client.query("SELECT current_user AS who");
        await client.end();
        await dropTenantDatabase(testServer(), "smoke_a");
        assert.equal(rows[0].who, "erp_smoke_a_owner");
    });
});

import * as assert from "node:assert/strict";
import { Client } from "pg";
import { ConnectionBudgetError, TenantConnectionManager } from "../../src/connections/manager";
import { adminServer, createTenants } from "../support/migration-targets";
import { dropDeclaredTenant as dropTenantDatabase, TenantFixture } from "../support/declared-tenants";

async function backendsOf(databases: string[]): Promise<number> {
    const admin = new Client({ ...adminServer(), database: "postgres" });
    await admin.connect();
    try {
        const { rows } = await admin.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ANY($1) AND application_name = 'manager-test'",
            [databases],
        );
        return rows[0].n;
    } finally {
        await admin.end();
    }
}

/**
 * A closed client's backend leaves pg_stat_activity a moment after the socket closes; poll
 * (up to 5 s) until the count reaches what is expected, then return the count seen last.
 */
async function settledBackendsOf(databases: string[], expected: number): Promise<number> {
    let seen = await backendsOf(databases);
    for (let attempt = 0; seen !== expected && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        seen = await backendsOf(databases);
    }
    return seen;
}

describe("TenantConnectionManager", function () {
    this.timeout(60_000);
    const ids = ["mig_pool_a", "mig_pool_b", "mig_pool_c"];
    let fixtures: Map<string, TenantFixture>;
    const databases = ids.map((id) => `erp_${id}`);

    before(async () => {
        fixtures = new Map((await createTenants(adminServer(), ids)).map((f) => [f.tenantId, f]));
    });
    after(async () => {
        for (const id of ids) await dropTenantDatabase(adminServer(), id);
    });

    const manager = (acquireTimeoutMs = 5_000) => {
        const resolved: string[] = [];
        const instance = new TenantConnectionManager({
            resolve: (tenantId) => {
                resolved.push(tenantId);
                const f = fixtures.get(tenantId);
                if (!f) throw new Error(`unknown tenant ${tenantId}`);
                return { ...adminServer(), database: f.names.database, user: f.names.appRole, password: f.passwords.app };
            },
            maxTotalConnections: 2,
            poolSize: 1,
            acquireTimeoutMs,
            applicationName: "manager-test",
        });
        return { instance, resolved };
    };

    it("creates one pool per tenant on first use, shared by concurrent first calls", async () => {
        const { instance, resolved } = manager();
        try {
            const users = await Promise.all([1, 2, 3].map(() => instance.query<{ u: string }>("mig_pool_a", "SELECT current_user AS u")));
            assert.deepEqual(
                users.map((r) => r.rows[0].u),
                ["erp_mig_pool_a_app", "erp_mig_pool_a_app", "erp_mig_pool_a_app"],
            );
            assert.deepEqual(resolved, ["mig_pool_a"]);
            assert.deepEqual(instance.stats(), { pools: 1, reservedConnections: 1, openConnections: 1 });
        } finally {
            await instance.close();
        }
    });

    it("stays within the connection bound by closing the least recently used idle pool", async () => {
        const { instance } = manager();
        try {
            await instance.query("mig_pool_a", "SELECT 1");
            await instance.query("mig_pool_b", "SELECT 1");
            await instance.query("mig_pool_a", "SELECT 1");
            await instance.query("mig_pool_c", "SELECT 1"); // b is the least recently used
            assert.deepEqual(instance.stats(), { pools: 2, reservedConnections: 2, openConnections: 2 });
            assert.equal(await settledBackendsOf(["erp_mig_pool_b"], 0), 0);
            assert.equal(await settledBackendsOf(databases, 2), 2);
        } finally {
            await instance.close();
        }
        assert.equal(await settledBackendsOf(databases, 0), 0);
    });

    it("makes a caller wait while every pool is busy, and fails it clearly at the deadline", async () => {
        const { instance } = manager(300);
        try {
            let release!: () => void;
            const held = new Promise<void>((resolve) => (release = resolve));
            const busyA = instance.withClient("mig_pool_a", () => held);
            const busyB = instance.withClient("mig_pool_b", () => held);
            await new Promise((resolve) => setTimeout(resolve, 50));
            await assert.rejects(instance.query("mig_pool_c", "SELECT 1"), (error: Error) => {
                assert.ok(error instanceof ConnectionBudgetError);
                assert.equal(
                    error.message,
                    "no room for a pool of tenant mig_pool_c: all 2 tenant pools are busy and hold the whole budget of 2 connections; raise maxTotalConnections or lower the concurrency of callers",
                );
                return true;
            });
            const waiting = instance.query<{ db: string }>("mig_pool_c", "SELECT current_database() AS db");
            release();
            await Promise.all([busyA, busyB]);
            assert.equal((await waiting).rows[0].db, "erp_mig_pool_c");
        } finally {
            await instance.close();
        }
    });

    it("discards a client whose work failed, and refuses work after close", async () => {
        const { instance } = manager();
        await instance
            .withClient("mig_pool_a", (client) => client.query("BEGIN; SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)"))
            .catch(() => undefined);
        const { rows } = await instance.query<{ status: string }>("mig_pool_a", "SELECT current_setting('statement_timeout') AS status");
        assert.equal(rows[0].status, "30s");
        await instance.close();
        assert.deepEqual(instance.stats(), { pools: 0, reservedConnections: 0, openConnections: 0 });
        await assert.rejects(instance.query("mig_pool_a", "SELECT 1"), /connection manager is closed; no connection to tenant mig_pool_a/);
    });
});

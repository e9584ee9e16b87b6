/**
 * What two tenants on one server share besides data, asserted exactly: notifications, temporary
 * objects and other sessions' activity stay within a database or a role; what stays visible
 * (README, "Isolation on a shared server") is asserted too, so a change in either shows here.
 */
import * as assert from "node:assert/strict";
import type { Client } from "pg";
import { MIGRATION_LOCK_KEY, releaseLock, tryLock } from "../../src/migrate/lock";
import { applyDeclaredTenants, dropDeclaredTenant, TenantFixture } from "../support/declared-tenants";
import { testServer, withClient } from "../support/server";
import { asRole, assertRefused, connectAs, nextNotification } from "./helpers";

type LoginRole = "app" | "readonly" | "migrator";
const as = <T>(tenant: TenantFixture, role: LoginRole, body: (client: Client) => Promise<T>) =>
    asRole(tenant.names[`${role}Role`], tenant.passwords[role], tenant.names.database, body);
const rows = async (client: Client, sql: string, values: unknown[] = []) => (await client.query(sql, values)).rows;
/** Long enough for a notification on the same server to arrive (they take well under a millisecond). */
const WINDOW_MS = 500;

describe("Security: no side channel between two tenants on one server", function () {
    this.timeout(60_000);
    const TENANTS = ["sec_ch_a", "sec_ch_b"];
    let a: TenantFixture, b: TenantFixture;

    before(async () => {
        for (const tenant of TENANTS) await dropDeclaredTenant(testServer(), tenant);
        [a, b] = (await applyDeclaredTenants(testServer(), TENANTS)).fixtures;
    });

    after(async () => {
        for (const tenant of TENANTS) await dropDeclaredTenant(testServer(), tenant);
    });

    it("delivers a NOTIFY only inside its own database: B's never reaches A's listener, A's own does", async () => {
        const listenerA = await connectAs(a.names.appRole, a.passwords.app, a.names.database);
        const listenerB = await connectAs(b.names.appRole, b.passwords.app, b.names.database);
        const atB: string[] = [];
        listenerB.on("notification", (n) => atB.push(`${n.channel}:${n.payload}`));
        try {
            await listenerA.query("LISTEN tenantdb_probe");
            await listenerB.query("LISTEN tenantdb_probe");
            const crossed = nextNotification(listenerA, WINDOW_MS);
            await as(b, "readonly", (c) => c.query("SELECT pg_notify('tenantdb_probe', 'from b')"));
            assert.equal(await crossed, undefined);
            // The positive control: the same channel within A's own database arrives, from the sender's backend.
            const own = nextNotification(listenerA, 10_000);
            const sender = await as(a, "readonly", async (c) => {
                await c.query("NOTIFY tenantdb_probe, 'from a'");
                return (await rows(c, "SELECT pg_backend_pid() AS pid"))[0].pid;
            });
            const notification = await own;
            assert.deepEqual([notification?.channel, notification?.payload, notification?.processId], ["tenantdb_probe", "from a", sender]);
            // B's listener heard B's own notification and never A's.
            await nextNotification(listenerB, WINDOW_MS);
            assert.deepEqual(atB, ["tenantdb_probe:from b"]);
        } finally {
            await Promise.all([listenerA.end(), listenerB.end()]);
        }
    });

    it("keeps temporary tables and pg_temp functions to their session and database", async () => {
        // The login roles have CONNECT only: app and readonly cannot create temporary objects at all.
        for (const role of ["app", "readonly"] as const) {
            await as(a, role, (c) =>
                assertRefused(
                    c.query("CREATE TEMP TABLE t (i int)"),
                    "42501",
                    `permission denied to create temporary tables in database "${a.names.database}"`,
                ),
            );
        }
        // The migrator runs as the owner role, which may: its objects are its session's.
        const holder = await connectAs(a.names.migratorRole, a.passwords.migrator, a.names.database);
        try {
            await holder.query("CREATE TEMP TABLE sec_scratch (secret text)");
            await holder.query("INSERT INTO sec_scratch VALUES ('a-secret')");
            await holder.query("CREATE FUNCTION pg_temp.sec_probe() RETURNS text LANGUAGE sql AS $$ SELECT 'a' $$");
            assert.deepEqual(await rows(holder, "SELECT pg_temp.sec_probe() AS p, (SELECT secret FROM sec_scratch) AS s"), [
                { p: "a", s: "a-secret" },
            ]);
            const schema = (await rows(holder, "SELECT pg_my_temp_schema()::regnamespace::text AS s"))[0].s;

            // Tenant B's database has its own catalog: nothing of A's is there, and B's own names do not clash.
            await as(b, "migrator", async (c) => {
                assert.deepEqual(
                    await rows(
                        c,
                        "SELECT (SELECT count(*)::int FROM pg_class WHERE relname = 'sec_scratch') AS t, (SELECT count(*)::int FROM pg_proc WHERE proname = 'sec_probe') AS f",
                    ),
                    [{ t: 0, f: 0 }],
                );
                await assertRefused(c.query("SELECT * FROM sec_scratch"), "42P01", 'relation "sec_scratch" does not exist');
                await c.query("CREATE TEMP TABLE sec_scratch (secret text)");
                assert.deepEqual(await rows(c, "SELECT count(*)::int AS n FROM sec_scratch"), [{ n: 0 }]);
                // pg_temp is the session's own temporary schema: now B has one, and A's function is not in it.
                await assertRefused(c.query("SELECT pg_temp.sec_probe()"), "42883", "function pg_temp.sec_probe() does not exist");
            });
            // Another session of the same role in the same database sees the table's name and schema, never its rows or the function.
            await as(a, "migrator", async (c) => {
                await c.query("CREATE TEMP TABLE own (i int)");
                assert.deepEqual(
                    await rows(c, "SELECT relnamespace::regnamespace::text AS s FROM pg_class WHERE relname = 'sec_scratch'"),
                    [{ s: schema }],
                );
                // Refused before the rows are even looked for: another session's temporary schema gives USAGE to nobody.
                await assertRefused(c.query(`SELECT * FROM ${schema}.sec_scratch`), "42501", `permission denied for schema ${schema}`);
                await assertRefused(c.query("SELECT pg_temp.sec_probe()"), "42883", "function pg_temp.sec_probe() does not exist");
            });
        } finally {
            await holder.end();
        }
    });

    it("hides another role's activity in pg_stat_activity and refuses to cancel, end or size another tenant's work", async () => {
        const busy = await connectAs(a.names.appRole, a.passwords.app, a.names.database);
        try {
            const pid = (await rows(busy, "SELECT pg_backend_pid() AS pid"))[0].pid;
            await busy.query("SET application_name = 'sec-a-app'");
            const marker = "SELECT 'sec-activity-marker' AS marker";
            await busy.query(marker);
            const activity = (c: Client) =>
                rows(
                    c,
                    "SELECT datname, usename, application_name, state, query, backend_start, client_addr FROM pg_stat_activity WHERE pid = $1",
                    [pid],
                );
            const hidden = {
                datname: a.names.database,
                usename: a.names.appRole,
                application_name: "sec-a-app",
                state: null,
                query: "<insufficient privilege>",
                backend_start: null,
                client_addr: null,
            };
            // Another tenant, and another role of the same tenant, see who and where, never what.
            await as(b, "app", async (c) => {
                assert.deepEqual(await activity(c), [hidden]);
                await assertRefused(
                    c.query("SELECT pg_cancel_backend($1)", [pid]),
                    "42501",
                    "must be a member of the role whose query is being canceled or member of pg_signal_backend",
                );
                await assertRefused(
                    c.query("SELECT pg_terminate_backend($1)", [pid]),
                    "42501",
                    "must be a member of the role whose process is being terminated or member of pg_signal_backend",
                );
                await assertRefused(
                    c.query("SELECT pg_database_size($1)", [a.names.database]),
                    "42501",
                    `permission denied for database ${a.names.database}`,
                );
            });
            await as(a, "readonly", async (c) => assert.deepEqual(await activity(c), [hidden]));
            // The controls: the same role's other session, and the admin, see the query itself.
            const shown = { ...hidden, state: "idle", query: marker };
            const own = await as(a, "app", activity);
            assert.deepEqual(
                own.map((row) => ({ ...row, backend_start: null, client_addr: null })),
                [shown],
            );
            assert.ok(own[0].backend_start instanceof Date);
            const seen = await withClient(testServer(), "postgres", activity);
            assert.deepEqual(
                seen.map((row) => row.query),
                [marker],
            );
        } finally {
            await busy.end();
        }
    });

    it("leaves visible only names and lock metadata, and an advisory lock in a tenant's own database blocks that tenant alone", async () => {
        await as(b, "app", async (c) => {
            // Shared catalogs: every role sees every database and role name (README: residual).
            assert.deepEqual(await rows(c, "SELECT datname FROM pg_database WHERE datname = $1", [a.names.database]), [
                { datname: a.names.database },
            ]);
            assert.deepEqual(
                (await rows(c, "SELECT rolname FROM pg_roles WHERE rolname LIKE 'erp\\_sec\\_ch\\_a\\_%' ORDER BY 1")).map(
                    (r) => r.rolname,
                ),
                [a.names.appRole, a.names.migratorRole, a.names.ownerRole, a.names.readonlyRole],
            );
            // And every database's activity counters.
            assert.deepEqual(
                await rows(c, "SELECT datname, xact_commit > 0 AS active FROM pg_stat_database WHERE datname = $1", [a.names.database]),
                [{ datname: a.names.database, active: true }],
            );
        });
        // A's app holds the migration lock's key in A's database: A's migrations wait, B's do not.
        const holder = await connectAs(a.names.appRole, a.passwords.app, a.names.database);
        try {
            assert.deepEqual(await rows(holder, "SELECT pg_try_advisory_lock($1::bigint) AS ok", [MIGRATION_LOCK_KEY]), [{ ok: true }]);
            const pid = (await rows(holder, "SELECT pg_backend_pid() AS pid"))[0].pid;
            await as(a, "migrator", async (c) => assert.equal(await tryLock(c), false));
            await as(b, "migrator", async (c) => {
                assert.equal(await tryLock(c), true);
                await releaseLock(c);
                // pg_locks is server-wide: B sees that some session of A's database holds an advisory lock, and its key.
                const seen = await rows(
                    c,
                    `SELECT l.locktype, d.datname, ((l.classid::bigint << 32) | l.objid::bigint)::text AS key, l.granted
                     FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.pid = $1 AND l.locktype = 'advisory'`,
                    [pid],
                );
                assert.deepEqual(seen, [{ locktype: "advisory", datname: a.names.database, key: MIGRATION_LOCK_KEY, granted: true }]);
            });
        } finally {
            await holder.end();
        }
    });
});

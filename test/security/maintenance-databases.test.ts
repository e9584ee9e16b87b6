/**
 * The server's maintenance databases (`postgres`, `template1`) are the admin's alone, as the
 * server's component declares and the harness applies: no tenant role connects there, so none can
 * take an operation lock keyed there, such as a restore's.
 */
import * as assert from "node:assert/strict";
import type { Client } from "pg";
import { MAINTENANCE_DATABASES, restoreLockKey } from "../../src/naming";
import { applyDeclaredTenants, dropDeclaredTenant, TenantFixture } from "../support/declared-tenants";
import { testServer, withClient } from "../support/server";
import { asRole, assertRefused, connectAs } from "./helpers";

const LOGIN_ROLES = ["app", "readonly", "migrator"] as const;
/** The key src/backup/restore/server-session.ts locks, in `postgres`, for the length of a restore or drill. */
const admin = <T>(database: string, body: (client: Client) => Promise<T>) => withClient(testServer(), database, body);

describe("Security: only the admin connects to the maintenance databases", function () {
    this.timeout(60_000);
    const TENANTS = ["sec_mnt_a", "sec_mnt_b"];
    let a: TenantFixture, b: TenantFixture;

    before(async () => {
        for (const tenant of TENANTS) await dropDeclaredTenant(testServer(), tenant);
        [a, b] = (await applyDeclaredTenants(testServer(), TENANTS)).fixtures;
    });

    after(async () => {
        for (const tenant of TENANTS) await dropDeclaredTenant(testServer(), tenant);
    });

    it("refuses every login role of every tenant on postgres and template1, and lets each into its own database", async () => {
        for (const tenant of [a, b]) {
            for (const role of LOGIN_ROLES) {
                const user = tenant.names[`${role}Role`];
                for (const database of MAINTENANCE_DATABASES) {
                    await assertRefused(
                        connectAs(user, tenant.passwords[role], database),
                        "42501",
                        `permission denied for database "${database}"`,
                    );
                }
                const own = await asRole(
                    user,
                    tenant.passwords[role],
                    tenant.names.database,
                    async (c) => (await c.query("SELECT 1 AS one")).rows,
                );
                assert.deepEqual(own, [{ one: 1 }]);
            }
        }
    });

    it("keeps CONNECT and TEMPORARY for the owner (the admin) only, and gives no tenant role either", async () => {
        const owner = testServer().user;
        for (const database of MAINTENANCE_DATABASES) {
            const rows = await admin(database, async (client) => {
                const acl = await client.query(
                    "SELECT current_database() AS here, datacl::text[] AS acl FROM pg_database WHERE datname = $1",
                    [database],
                );
                const roles = [a, b].flatMap((t) => [t.names.ownerRole, t.names.appRole, t.names.readonlyRole, t.names.migratorRole]);
                const privileges = await client.query(
                    `SELECT r AS role, has_database_privilege(r, $1, 'CONNECT') AS connect, has_database_privilege(r, $1, 'TEMPORARY') AS temporary
                     FROM unnest($2::text[]) r ORDER BY r COLLATE "C"`,
                    [database, roles],
                );
                return {
                    acl: acl.rows,
                    privileges: privileges.rows,
                    expected: roles.sort().map((role) => ({ role, connect: false, temporary: false })),
                };
            });
            assert.deepEqual(rows.acl, [{ here: database, acl: [`${owner}=CTc/${owner}`] }]);
            assert.equal(rows.expected.length, 8);
            assert.deepEqual(rows.privileges, rows.expected);
        }
    });

    it("leaves the restore lock to the admin: the same key taken in a tenant's own database blocks no restore", async () => {
        const key = restoreLockKey(b.names.database);
        // Advisory locks are scoped to their database: A's app, in its own, takes B's restore key...
        await asRole(a.names.appRole, a.passwords.app, a.names.database, async (app) => {
            assert.deepEqual((await app.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [key])).rows, [{ ok: true }]);
            // ...and B's restore still takes its lock in postgres, where no tenant can follow (first test), while a
            // second admin session shows that lock is real: the one place it can be held is closed to tenants.
            await admin("postgres", async (restore) => {
                assert.deepEqual((await restore.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [key])).rows, [{ ok: true }]);
                const other = await admin(
                    "postgres",
                    async (c) => (await c.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [key])).rows,
                );
                assert.deepEqual(other, [{ ok: false }]);
            });
        });
    });
});

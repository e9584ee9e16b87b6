/**
 * What the TenantDatabase component declares, applied by the harness to a real PostgreSQL 15,
 * really isolates tenants: every refusal is asserted with its exact SQLSTATE and message, and
 * every allowance next to it, so a test cannot pass because nothing works.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Client, escapeIdentifier as id, escapeLiteral as lit } from "pg";
import { BUSINESS_SCHEMAS, MIGRATIONS_SCHEMA } from "../../src/naming";
import { applyDeclaredTenants, dropDeclaredTenant, TenantFixture } from "../support/declared-tenants";
import { testServer } from "../support/server";
import { asRole, assertRefused, connectAs } from "./helpers";

type LoginRole = "app" | "readonly" | "migrator";
const LOGIN_ROLES: LoginRole[] = ["app", "readonly", "migrator"];
const user = (tenant: TenantFixture, role: LoginRole) => tenant.names[`${role}Role`];

describe("Security: declared tenants are isolated on a real PostgreSQL", function () {
    this.timeout(60_000);
    // sec_b: app limit 12 - 9 = 3 connections (roleConnectionLimits), statement timeout 1 s.
    const TENANTS = [
        { id: "sec_a" },
        { id: "sec_b", connectionLimit: 12, statementTimeoutMs: 1000 },
        { id: "sec_c", extensions: ["citext"] },
    ];
    let a: TenantFixture, b: TenantFixture, c: TenantFixture;

    before(async () => {
        for (const tenant of TENANTS) await dropDeclaredTenant(testServer(), tenant.id);
        [a, b, c] = (await applyDeclaredTenants(testServer(), TENANTS)).fixtures;
        // A migration as the migrator: it runs as the owner role (assume_role), and the owner's
        // default privileges share the tables with app and readonly.
        await asRole(a.names.migratorRole, a.passwords.migrator, a.names.database, async (migrator) => {
            await migrator.query("CREATE TABLE core.items (id bigserial PRIMARY KEY, name text NOT NULL)");
            await migrator.query("CREATE TABLE audit.events (id bigserial PRIMARY KEY, what text NOT NULL)");
            await migrator.query("INSERT INTO audit.events (what) VALUES ('created')");
        });
    });

    after(async () => {
        for (const tenant of TENANTS) await dropDeclaredTenant(testServer(), tenant.id);
    });

    it("refuses every login role of tenant A on tenant B's database, and lets it into its own", async () => {
        for (const [tenant, other] of [
            [a, b],
            [b, a],
            [c, a],
        ]) {
            for (const role of LOGIN_ROLES) {
                await assertRefused(
                    connectAs(user(tenant, role), tenant.passwords[role], other.names.database),
                    "42501",
                    `permission denied for database "${other.names.database}"`,
                );
                const database = await asRole(
                    user(tenant, role),
                    tenant.passwords[role],
                    tenant.names.database,
                    async (client) => (await client.query("SELECT current_database() AS d")).rows[0].d,
                );
                assert.equal(database, tenant.names.database);
            }
        }
    });

    it("refuses a role with LOGIN and no grants (PUBLIC has no CONNECT) on every tenant's and every maintenance database", async () => {
        const probe = "sec_public_probe";
        // A database as CREATE DATABASE leaves it (PUBLIC may connect): the probe's login works there.
        const open = "sec_public_probe_open";
        const password = randomBytes(18).toString("base64url");
        const admin = new Client({ ...testServer(), database: "postgres" });
        await admin.connect();
        try {
            await admin.query(`DROP DATABASE IF EXISTS ${id(open)}`);
            await admin.query(`DROP ROLE IF EXISTS ${id(probe)}`);
            await admin.query(`CREATE ROLE ${id(probe)} LOGIN PASSWORD ${lit(password)}`);
            await admin.query(`CREATE DATABASE ${id(open)} TEMPLATE template0`);
            for (const database of [a.names.database, b.names.database, c.names.database, "postgres", "template1"]) {
                await assertRefused(connectAs(probe, password, database), "42501", `permission denied for database "${database}"`);
            }
            assert.equal(
                await asRole(probe, password, open, async (client) => (await client.query("SELECT session_user AS u")).rows[0].u),
                probe,
            );
            const acl = await admin.query("SELECT datname, datacl::text[] AS acl FROM pg_database WHERE datname = $1", [a.names.database]);
            assert.deepEqual(acl.rows[0].acl, [
                `${a.names.ownerRole}=CTc/${a.names.ownerRole}`,
                `${a.names.appRole}=c/${a.names.ownerRole}`,
                `${a.names.readonlyRole}=c/${a.names.ownerRole}`,
                `${a.names.migratorRole}=c/${a.names.ownerRole}`,
            ]);
        } finally {
            await admin.query(`DROP DATABASE IF EXISTS ${id(open)}`);
            await admin.query(`DROP ROLE IF EXISTS ${id(probe)}`);
            await admin.end();
        }
    });

    it("accepts each password only for its own role", async () => {
        const others = [a, b, c];
        for (const tenant of others) {
            for (const role of LOGIN_ROLES) {
                for (const other of others) {
                    for (const otherRole of LOGIN_ROLES) {
                        if (other === tenant && otherRole === role) continue;
                        await assertRefused(
                            connectAs(user(tenant, role), other.passwords[otherRole], tenant.names.database),
                            "28P01",
                            `password authentication failed for user "${user(tenant, role)}"`,
                        );
                    }
                }
            }
        }
        // The owner role has no password (and NOLOGIN): even the migrator's password cannot open it.
        await assertRefused(
            connectAs(a.names.ownerRole, a.passwords.migrator, a.names.database),
            "28P01",
            `password authentication failed for user "${a.names.ownerRole}"`,
        );
    });

    it("gives no tenant role superuser, createdb, createrole, replication or bypassrls, and the declared limits", async () => {
        const admin = new Client({ ...testServer(), database: "postgres" });
        await admin.connect();
        try {
            const roles = await admin.query(
                `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolcanlogin, rolconnlimit, coalesce(rolconfig, '{}') AS rolconfig
                 FROM pg_roles WHERE rolname LIKE 'erp\\_sec\\_%' ORDER BY rolname`,
            );
            const expected = [];
            for (const [tenant, appLimit, timeout] of [
                [a, 41, 30000],
                [b, 3, 1000],
                [c, 41, 30000],
            ] as const) {
                const powers = {
                    rolsuper: false,
                    rolcreatedb: false,
                    rolcreaterole: false,
                    rolreplication: false,
                    rolbypassrls: false,
                    rolinherit: true,
                };
                expected.push(
                    {
                        rolname: tenant.names.appRole,
                        ...powers,
                        rolcanlogin: true,
                        rolconnlimit: appLimit,
                        rolconfig: [`statement_timeout=${timeout}`, "idle_in_transaction_session_timeout=60000"],
                    },
                    {
                        rolname: tenant.names.migratorRole,
                        ...powers,
                        rolcanlogin: true,
                        rolconnlimit: 2,
                        rolconfig: [`role=${tenant.names.ownerRole}`],
                    },
                    { rolname: tenant.names.ownerRole, ...powers, rolcanlogin: false, rolconnlimit: -1, rolconfig: [] },
                    {
                        rolname: tenant.names.readonlyRole,
                        ...powers,
                        rolcanlogin: true,
                        rolconnlimit: 5,
                        rolconfig: ["statement_timeout=300000"],
                    },
                );
            }
            assert.deepEqual(roles.rows, expected);
        } finally {
            await admin.end();
        }
    });

    it("makes the migrator's objects owned by the owner role", async () => {
        await asRole(a.names.migratorRole, a.passwords.migrator, a.names.database, async (migrator) => {
            assert.deepEqual((await migrator.query("SELECT current_user::text AS current, session_user::text AS session")).rows, [
                { current: a.names.ownerRole, session: a.names.migratorRole },
            ]);
            const owners = await migrator.query(
                `SELECT n.nspname || '.' || c.relname AS object, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname IN ('core', 'audit') ORDER BY 1`,
            );
            assert.deepEqual(
                owners.rows,
                ["audit.events", "audit.events_id_seq", "audit.events_pkey", "core.items", "core.items_id_seq", "core.items_pkey"].map(
                    (object) => ({ object, owner: a.names.ownerRole }),
                ),
            );
        });
    });

    it("lets the app read and write business tables but not create, alter, drop or truncate anything", async () => {
        await asRole(a.names.appRole, a.passwords.app, a.names.database, async (app) => {
            const inserted = await app.query("INSERT INTO core.items (name) VALUES ('bolt') RETURNING id, name");
            assert.deepEqual(inserted.rows, [{ id: "1", name: "bolt" }]);
            assert.equal((await app.query("UPDATE core.items SET name = 'nut' WHERE id = 1")).rowCount, 1);
            assert.deepEqual((await app.query("SELECT what FROM audit.events")).rows, [{ what: "created" }]);
            for (const schema of ["public", MIGRATIONS_SCHEMA, ...BUSINESS_SCHEMAS]) {
                await assertRefused(
                    app.query(`CREATE TABLE ${id(schema)}.intruder (id int)`),
                    "42501",
                    `permission denied for schema ${schema}`,
                );
            }
            await assertRefused(app.query("CREATE SCHEMA intruder"), "42501", `permission denied for database ${a.names.database}`);
            await assertRefused(app.query("ALTER TABLE core.items ADD COLUMN price numeric"), "42501", "must be owner of table items");
            await assertRefused(app.query("DROP TABLE core.items"), "42501", "must be owner of table items");
            await assertRefused(app.query("TRUNCATE core.items"), "42501", "permission denied for table items");
            // The audit trail is append-only for the app: no direct writes.
            await assertRefused(
                app.query("INSERT INTO audit.events (what) VALUES ('forged')"),
                "42501",
                "permission denied for table events",
            );
            await assertRefused(app.query("DELETE FROM audit.events"), "42501", "permission denied for table events");
        });
    });

    it("lets the read-only role read but refuses every write by privilege, not by a read-only session", async () => {
        await asRole(a.names.readonlyRole, a.passwords.readonly, a.names.database, async (readonly) => {
            assert.equal((await readonly.query("SHOW default_transaction_read_only")).rows[0].default_transaction_read_only, "off");
            assert.deepEqual((await readonly.query("SELECT id, name FROM core.items ORDER BY id")).rows, [{ id: "1", name: "nut" }]);
            await assertRefused(readonly.query("INSERT INTO core.items (name) VALUES ('x')"), "42501", "permission denied for table items");
            await assertRefused(readonly.query("UPDATE core.items SET name = 'x'"), "42501", "permission denied for table items");
            await assertRefused(readonly.query("DELETE FROM core.items"), "42501", "permission denied for table items");
            await assertRefused(
                readonly.query("SELECT nextval('core.items_id_seq')"),
                "42501",
                "permission denied for sequence items_id_seq",
            );
            await assertRefused(readonly.query("CREATE TABLE core.intruder (id int)"), "42501", "permission denied for schema core");
        });
    });

    it("refuses the app connection past the role's connection limit", async () => {
        const open: Client[] = [];
        try {
            for (let i = 0; i < 3; i++) open.push(await connectAs(b.names.appRole, b.passwords.app, b.names.database));
            await assertRefused(
                connectAs(b.names.appRole, b.passwords.app, b.names.database),
                "53300",
                `too many connections for role "${b.names.appRole}"`,
            );
            // The other roles keep their own slots.
            assert.equal(
                await asRole(
                    b.names.readonlyRole,
                    b.passwords.readonly,
                    b.names.database,
                    async (client) => (await client.query("SELECT 1 AS one")).rows[0].one,
                ),
                1,
            );
        } finally {
            await Promise.all(open.map((client) => client.end()));
        }
    });

    it("cancels an app statement past the tenant's statement timeout", async () => {
        await asRole(b.names.appRole, b.passwords.app, b.names.database, async (app) => {
            assert.equal((await app.query("SHOW statement_timeout")).rows[0].statement_timeout, "1s");
            assert.equal((await app.query("SHOW idle_in_transaction_session_timeout")).rows[0].idle_in_transaction_session_timeout, "1min");
            await app.query("SELECT pg_sleep(0.2)");
            await assertRefused(app.query("SELECT pg_sleep(1.5)"), "57014", "canceling statement due to statement timeout");
        });
        await asRole(b.names.readonlyRole, b.passwords.readonly, b.names.database, async (readonly) => {
            assert.equal((await readonly.query("SHOW statement_timeout")).rows[0].statement_timeout, "5min");
        });
    });
});

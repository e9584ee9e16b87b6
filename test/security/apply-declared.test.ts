/**
 * The harness itself: it converges (a second apply changes nothing, drift is put back, a new
 * evaluation changes only the passwords), refuses what it cannot reproduce, and never lets an
 * identifier or literal out of its quotes.
 */
import * as assert from "node:assert/strict";
import { Client, escapeIdentifier as id } from "pg";
import { ApplyDeclaredError, ApplySummary, applyDeclaredResources } from "../../src/local/apply-declared";
import { DeclaredRole, declaredResources, declaredServers, providerName, unwrapSecrets } from "../../src/local/declared-resources";
import * as sql from "../../src/local/declared-sql";
import { quoteIdentifier, quoteLiteral } from "../../src/shared/sql";
import type { OfflineEvaluation } from "../../src/program/offline";
import { declaredTenantsConfig, dropDeclaredTenant, evaluateSerially, fixturesOf, SERVER } from "../support/declared-tenants";
import { catalogSnapshot as catalogOf } from "../support/catalog";
import { testServer } from "../support/server";
import { asRole, assertRefused } from "./helpers";

const TENANTS = [{ id: "sec_idem_a" }, { id: "sec_idem_b", extensions: ["citext"] }];
const IDS = TENANTS.map((tenant) => tenant.id);

function counts(summary: ApplySummary) {
    return Object.fromEntries(Object.entries(summary.counts).map(([kind, c]) => [kind, [c.created, c.updated, c.unchanged]]));
}

async function withAdmin<T>(database: string, body: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ ...testServer(), database });
    await client.connect();
    try {
        return await body(client);
    } finally {
        await client.end();
    }
}

/** Everything the harness manages for these tenants, password verifiers included. */
const catalogSnapshot = () => catalogOf(testServer(), IDS, { passwords: "verifier" });

describe("Security: the apply harness converges and quotes", function () {
    this.timeout(60_000);
    let evaluation: OfflineEvaluation;
    let first: ApplySummary;

    before(async () => {
        for (const tenant of IDS) await dropDeclaredTenant(testServer(), tenant);
        // The maintenance databases as initdb leaves them (an earlier test file's apply closed them), so the counts below are this file's.
        await withAdmin("postgres", async (admin) => {
            await admin.query("GRANT CONNECT, TEMPORARY ON DATABASE postgres TO PUBLIC");
            await admin.query("GRANT CONNECT ON DATABASE template1 TO PUBLIC");
        });
        evaluation = await evaluateSerially(declaredTenantsConfig(testServer(), TENANTS));
        first = await applyDeclaredResources(evaluation, testServer());
    });

    after(async () => {
        for (const tenant of [...IDS, "sec_idem_c"]) await dropDeclaredTenant(testServer(), tenant);
    });

    it("creates every declared resource on the first apply", () => {
        // Per tenant: 4 roles; 1 database; 2 or 3 extensions; 7 schemas; 16 grants (PUBLIC's
        // default CONNECT/TEMPORARY revoked: an update; 3 CONNECT; 12 schema USAGE); 18 default privileges.
        // Per server: PUBLIC's CONNECT (and TEMPORARY on postgres) revoked on postgres and template1: 2 updates.
        assert.equal(first.server, SERVER);
        assert.deepEqual(counts(first), {
            role: [8, 0, 0],
            grantRole: [0, 0, 0],
            database: [2, 0, 0],
            extension: [5, 0, 0],
            schema: [14, 0, 0],
            grant: [30, 4, 2],
            defaultPrivileges: [36, 0, 0],
        });
        assert.equal(first.changed, 99);
    });

    it("closes the maintenance databases to PUBLIC, as the server's component declares", async () => {
        assert.deepEqual(
            declaredResources(evaluation, SERVER)
                .grant.filter((grant) => grant.resourceName.startsWith("server-"))
                .map(({ resourceName, database, role, privileges }) => [resourceName, database, role, privileges]),
            [
                ["server-local-postgres-revoke-public", "postgres", "public", []],
                ["server-local-template1-revoke-public", "template1", "public", []],
            ],
        );
        const owner = testServer().user;
        const acls = await withAdmin(
            "postgres",
            async (admin) =>
                (
                    await admin.query(
                        "SELECT datname, datacl::text[] AS acl FROM pg_database WHERE datname IN ('postgres', 'template1') ORDER BY 1",
                    )
                ).rows,
        );
        assert.deepEqual(acls, [
            { datname: "postgres", acl: [`${owner}=CTc/${owner}`] },
            { datname: "template1", acl: [`${owner}=CTc/${owner}`] },
        ]);
    });

    it("changes nothing when the same evaluation is applied again", async () => {
        const before = await catalogSnapshot();
        const again = await applyDeclaredResources(evaluation, testServer(), { server: SERVER, parallel: 2 });
        assert.deepEqual(counts(again), {
            role: [0, 0, 8],
            grantRole: [0, 0, 0],
            database: [0, 0, 2],
            extension: [0, 0, 5],
            schema: [0, 0, 14],
            grant: [0, 0, 36],
            defaultPrivileges: [0, 0, 36],
        });
        assert.equal(again.changed, 0);
        assert.deepEqual(await catalogSnapshot(), before);
    });

    it("puts drift back to what is declared", async () => {
        const declared = await catalogSnapshot();
        await withAdmin("postgres", async (admin) => {
            await admin.query("ALTER ROLE erp_sec_idem_a_app CONNECTION LIMIT 99 CREATEDB");
            await admin.query("ALTER ROLE erp_sec_idem_a_app RESET statement_timeout");
            await admin.query("ALTER ROLE erp_sec_idem_a_migrator RESET ROLE");
            await admin.query("REVOKE erp_sec_idem_a_owner FROM erp_sec_idem_a_migrator");
            await admin.query("GRANT CONNECT ON DATABASE erp_sec_idem_a TO PUBLIC");
            await admin.query("ALTER DATABASE erp_sec_idem_a CONNECTION LIMIT 5");
            await admin.query("GRANT CONNECT ON DATABASE template1 TO PUBLIC");
        });
        await withAdmin("erp_sec_idem_a", async (admin) => {
            await admin.query("ALTER SCHEMA core OWNER TO erp_sec_idem_a_app");
            await admin.query("GRANT CREATE ON SCHEMA sales TO erp_sec_idem_a_readonly");
            await admin.query(
                "ALTER DEFAULT PRIVILEGES FOR ROLE erp_sec_idem_a_owner IN SCHEMA finance GRANT TRUNCATE ON TABLES TO erp_sec_idem_a_app",
            );
        });
        const repaired = await applyDeclaredResources(evaluation, testServer());
        // Giving core back to the owner rewrites its ACL without the app's USAGE (PostgreSQL's
        // aclnewowner merged it into the temporary owner's entry), so that grant is made again.
        assert.deepEqual(counts(repaired), {
            role: [0, 2, 6],
            grantRole: [0, 0, 0],
            database: [0, 1, 1],
            extension: [0, 0, 5],
            schema: [0, 1, 13],
            grant: [1, 3, 32],
            defaultPrivileges: [0, 1, 35],
        });
        assert.deepEqual(await catalogSnapshot(), declared);
    });

    it("changes only the login roles' passwords for a new evaluation, and the new passwords work", async () => {
        const [old] = fixturesOf(evaluation, IDS);
        const next = await evaluateSerially(declaredTenantsConfig(testServer(), TENANTS));
        const [fresh] = fixturesOf(next, IDS);
        assert.notEqual(fresh.passwords.app, old.passwords.app);
        const summary = await applyDeclaredResources(next, testServer());
        assert.deepEqual(counts(summary), {
            role: [0, 6, 2],
            grantRole: [0, 0, 0],
            database: [0, 0, 2],
            extension: [0, 0, 5],
            schema: [0, 0, 14],
            grant: [0, 0, 36],
            defaultPrivileges: [0, 0, 36],
        });
        await assertRefused(
            asRole(old.names.appRole, old.passwords.app, old.names.database, async () => undefined),
            "28P01",
            `password authentication failed for user "${old.names.appRole}"`,
        );
        for (const role of ["app", "readonly", "migrator"] as const) {
            const user = fresh.names[`${role}Role`];
            assert.equal(
                await asRole(
                    user,
                    fresh.passwords[role],
                    fresh.names.database,
                    async (c) => (await c.query("SELECT session_user AS u")).rows[0].u,
                ),
                user,
            );
        }
        evaluation = next;
    });

    it("refuses to replace a database whose collation differs from the declared one", async () => {
        await withAdmin("postgres", (admin) =>
            admin.query("CREATE DATABASE erp_sec_idem_c TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"),
        );
        const drifted = await evaluateSerially(declaredTenantsConfig(testServer(), [{ id: "sec_idem_c" }]));
        await assert.rejects(applyDeclaredResources(drifted, testServer()), (error: ApplyDeclaredError) => {
            assert.ok(error instanceof ApplyDeclaredError);
            assert.equal(
                error.message,
                "server local: database tenant-sec_idem_c-database: create or alter database failed: declared lcCollate C.UTF-8 but the database has C; " +
                    "the provider would replace the database, which this harness never does",
            );
            assert.equal(error.resource, "database tenant-sec_idem_c-database");
            return true;
        });
    });

    it("never lets a hostile identifier or literal out of its quotes", async () => {
        const hostile = 'x"; DROP ROLE sec_canary; --';
        const role: DeclaredRole = {
            resourceName: "hostile",
            name: hostile,
            password: "p'; DROP ROLE sec_canary; --\\",
            login: true,
            superuser: false,
            createDatabase: false,
            createRole: false,
            inherit: true,
            replication: false,
            bypassRowLevelSecurity: false,
            connectionLimit: 1,
            statementTimeout: 1000,
            idleInTransactionSessionTimeout: 0,
            roles: [],
            assumeRole: undefined,
        };
        assert.deepEqual(sql.createRole(role), [
            `CREATE ROLE "x""; DROP ROLE sec_canary; --" WITH ENCRYPTED PASSWORD  E'p''; DROP ROLE sec_canary; --\\\\' VALID UNTIL 'infinity' CONNECTION LIMIT 1 NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT LOGIN NOBYPASSRLS NOREPLICATION`,
            `ALTER ROLE "x""; DROP ROLE sec_canary; --" SET search_path TO DEFAULT`,
            `ALTER ROLE "x""; DROP ROLE sec_canary; --" SET statement_timeout TO 1000`,
        ]);
        assert.deepEqual(
            sql.grant({ resourceName: "g", database: 'db"x', role: "public", objectType: "database", privileges: ["CONNECT"] }),
            [`REVOKE ALL PRIVILEGES ON DATABASE "db""x" FROM "public"`, `GRANT CONNECT ON DATABASE "db""x" TO "public"`],
        );
        assert.equal(
            sql.createDatabase(
                {
                    resourceName: "d",
                    name: "erp_q",
                    owner: "o",
                    lcCollate: "C'; DROP DATABASE postgres; --",
                    connectionLimit: 3,
                    allowConnections: true,
                    isTemplate: false,
                },
                "admin",
            ),
            `CREATE DATABASE "erp_q" OWNER "o" TEMPLATE "template0" ENCODING 'UTF8' LC_COLLATE 'C''; DROP DATABASE postgres; --' ALLOW_CONNECTIONS true CONNECTION LIMIT 3 IS_TEMPLATE false`,
        );
        // On the server: exactly one role with exactly that name, the canary untouched, and the password is the literal given.
        await withAdmin("postgres", async (admin) => {
            await admin.query("DROP ROLE IF EXISTS sec_canary");
            await admin.query(`DROP ROLE IF EXISTS ${id(hostile)}`);
            await admin.query("CREATE ROLE sec_canary");
            try {
                for (const statement of sql.createRole(role)) await admin.query(statement);
                const roles = await admin.query("SELECT rolname FROM pg_roles WHERE rolname IN ($1, 'sec_canary') ORDER BY 1", [hostile]);
                assert.deepEqual(
                    roles.rows.map((row) => row.rolname),
                    ["sec_canary", hostile],
                );
                // Refused only after authenticating (a wrong password is 28P01): the password is the literal given.
                // It cannot get in: PUBLIC has no CONNECT on postgres since the apply in before().
                await assertRefused(
                    asRole(hostile, role.password!, "postgres", async () => undefined),
                    "42501",
                    'permission denied for database "postgres"',
                );
            } finally {
                await admin.query(`DROP ROLE IF EXISTS ${id(hostile)}`);
                await admin.query("DROP ROLE IF EXISTS sec_canary");
            }
        });
    });

    it("refuses identifiers PostgreSQL would truncate or cannot hold, and privileges that are not keywords", () => {
        assert.throws(() => quoteIdentifier("r".repeat(64), "role name of t"), {
            message: `role name of t "${"r".repeat(64)}" is longer than PostgreSQL's 63 bytes`,
        });
        assert.throws(() => quoteIdentifier("", "role name of t"), { message: "role name of t must be a non-empty name" });
        assert.throws(() => quoteIdentifier("a\nb", "role name of t"), { message: 'role name of t "a\\nb" contains a control character' });
        assert.throws(() => quoteLiteral("a\u0000b", "password of t"), {
            message: "password of t must be a string without NUL characters",
        });
        assert.throws(
            () =>
                sql.defaultPrivileges({
                    resourceName: "dp",
                    database: "d",
                    owner: "o",
                    role: "r",
                    schema: "s",
                    objectType: "table",
                    privileges: ["SELECT; DROP TABLE x"],
                }),
            { message: 'dp: "SELECT; DROP TABLE x" is not an allowed privilege for object type table' },
        );
        assert.equal(quoteIdentifier("ü".repeat(31), "x"), `"${"ü".repeat(31)}"`);
        assert.throws(() => quoteIdentifier("ü".repeat(32), "x"), /longer than PostgreSQL's 63 bytes/);
    });

    it("reads the declared resources of one server and refuses arguments it would not apply", () => {
        const declared = declaredResources(evaluation, SERVER);
        assert.deepEqual(
            declared.role
                .filter((role) => role.name === "erp_sec_idem_a_migrator")
                .map(({ password, ...rest }) => ({ ...rest, password: typeof password })),
            [
                {
                    resourceName: "tenant-sec_idem_a-migrator",
                    name: "erp_sec_idem_a_migrator",
                    password: "string",
                    login: true,
                    superuser: false,
                    createDatabase: false,
                    createRole: false,
                    inherit: true,
                    replication: false,
                    bypassRowLevelSecurity: false,
                    connectionLimit: 2,
                    statementTimeout: 0,
                    idleInTransactionSessionTimeout: 0,
                    roles: ["erp_sec_idem_a_owner"],
                    assumeRole: "erp_sec_idem_a_owner",
                },
            ],
        );
        assert.deepEqual(declaredServers(evaluation), [SERVER]);
        const provider =
            "urn:pulumi:test::tenantdb::pulumi:pulumi:Stack$pulumi:providers:postgresql::server-local-postgresql::server-local-postgresql-id";
        assert.equal(providerName(provider), "server-local-postgresql");
        assert.deepEqual(unwrapSecrets({ a: [{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "s" }] }), {
            a: ["s"],
        });

        const withSearchPath = {
            ...evaluation,
            resources: [
                { type: "postgresql:index/role:Role", name: "r", custom: true, provider, inputs: { name: "r", searchPath: ["x"] } },
            ],
        } as OfflineEvaluation;
        assert.throws(() => declaredResources(withSearchPath, SERVER), {
            message:
                "postgresql:index/role:Role r: the local harness does not apply argument(s) searchPath; add them to src/local/declared-resources.ts and src/local/declared-sql.ts deliberately.",
        });
        const tableGrant = {
            ...evaluation,
            resources: [
                {
                    type: "postgresql:index/grant:Grant",
                    name: "g",
                    custom: true,
                    provider,
                    inputs: { database: "d", role: "r", objectType: "table", privileges: [] },
                },
            ],
        } as OfflineEvaluation;
        assert.throws(() => declaredResources(tableGrant, SERVER), {
            message: "postgresql:index/grant:Grant g: argument objectType must be one of database, schema (the harness covers only these)",
        });
    });

    it("names the servers when the one asked for has nothing declared, or when several could be meant", async () => {
        await assert.rejects(applyDeclaredResources(evaluation, testServer(), { server: "elsewhere" }), {
            message: 'No PostgreSQL resources are declared on server "elsewhere"; servers with some: local.',
        });
        const other = (server: string) => ({
            type: "postgresql:index/role:Role",
            name: `r-${server}`,
            custom: true,
            inputs: { name: `r_${server}` },
            provider: `urn:pulumi:test::tenantdb::pulumi:pulumi:Stack$pulumi:providers:postgresql::server-${server}-postgresql::server-${server}-postgresql-id`,
        });
        const twoServers = { ...evaluation, resources: [other("local"), other("other")] } as OfflineEvaluation;
        await assert.rejects(applyDeclaredResources(twoServers, testServer()), {
            message: "Say which server to apply (options.server): the program declares PostgreSQL resources on local, other.",
        });
    });

    it("keeps passwords out of its errors", () => {
        const [fixture] = fixturesOf(evaluation, IDS);
        const error = new ApplyDeclaredError("local", "role tenant-x-app", "apply role", new Error(`near "${fixture.passwords.app}"`), [
            fixture.passwords.app,
        ]);
        assert.equal(error.message, 'server local: role tenant-x-app: apply role failed: near "[redacted]"');
        assert.equal((error.cause as Error).message, 'near "[redacted]"');
    });
});

/**
 * Creates a tenant database with the roles, grants and schemas the TenantDatabase
 * component declares, for tests that need real tenant databases.
 *
 * TEMPORARY: issue 6 replaces this hand-written SQL with a harness that applies what the
 * Pulumi program itself declares. Keep it in step with components/ until then.
 */
import { randomBytes } from "node:crypto";
import { Client, ClientConfig, escapeIdentifier as id, escapeLiteral as lit } from "pg";
import { BUSINESS_SCHEMAS, DEFAULT_EXTENSIONS, MIGRATIONS_SCHEMA, TenantNames, tenantNames } from "../../src/naming";

export interface TenantFixture {
    readonly tenantId: string;
    readonly names: TenantNames;
    readonly passwords: { readonly app: string; readonly readonly: string; readonly migrator: string };
}

const password = () => randomBytes(24).toString("base64url");

export async function createTenantDatabase(
    admin: ClientConfig,
    tenantId: string,
    options: { connectionLimit?: number } = {},
): Promise<TenantFixture> {
    const names = tenantNames(tenantId);
    const passwords = { app: password(), readonly: password(), migrator: password() };
    const owner = id(names.ownerRole);
    const app = id(names.appRole);
    const readonly = id(names.readonlyRole);
    const migrator = id(names.migratorRole);
    const database = id(names.database);
    const limit = options.connectionLimit ?? 50;
    const noPowers = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";

    const server = new Client({ ...admin, database: "postgres" });
    await server.connect();
    try {
        await server.query(`CREATE ROLE ${owner} NOLOGIN ${noPowers}`);
        await server.query(`CREATE ROLE ${app} LOGIN ${noPowers} CONNECTION LIMIT ${Math.floor(limit * 0.8)} PASSWORD ${lit(passwords.app)}`);
        await server.query(`ALTER ROLE ${app} SET statement_timeout = 30000`);
        await server.query(`CREATE ROLE ${readonly} LOGIN ${noPowers} CONNECTION LIMIT 5 PASSWORD ${lit(passwords.readonly)}`);
        await server.query(`ALTER ROLE ${readonly} SET statement_timeout = 300000`);
        await server.query(`CREATE ROLE ${migrator} LOGIN ${noPowers} CONNECTION LIMIT 3 PASSWORD ${lit(passwords.migrator)} IN ROLE ${owner}`);
        await server.query(`ALTER ROLE ${migrator} SET role = ${lit(names.ownerRole)}`);
        await server.query(
            `CREATE DATABASE ${database} OWNER ${owner} ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0 CONNECTION LIMIT ${limit}`,
        );
        await server.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
        await server.query(`GRANT CONNECT ON DATABASE ${database} TO ${app}, ${readonly}, ${migrator}`);
    } finally {
        await server.end();
    }

    const tenant = new Client({ ...admin, database: names.database });
    await tenant.connect();
    try {
        for (const extension of DEFAULT_EXTENSIONS) await tenant.query(`CREATE EXTENSION IF NOT EXISTS ${id(extension)}`);
        await tenant.query(`CREATE SCHEMA ${id(MIGRATIONS_SCHEMA)} AUTHORIZATION ${owner}`);
        for (const schema of BUSINESS_SCHEMAS) {
            const s = id(schema);
            await tenant.query(`CREATE SCHEMA ${s} AUTHORIZATION ${owner}`);
            await tenant.query(`GRANT USAGE ON SCHEMA ${s} TO ${app}, ${readonly}`);
            // The audit trail is append-only for the application: rows arrive through a
            // SECURITY DEFINER trigger owned by the owner role, the app may only read them.
            const appTablePrivileges = schema === "audit" ? "SELECT" : "SELECT, INSERT, UPDATE, DELETE";
            await tenant.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT ${appTablePrivileges} ON TABLES TO ${app}`);
            await tenant.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${app}`);
            await tenant.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${readonly}`);
        }
    } finally {
        await tenant.end();
    }
    return { tenantId, names, passwords };
}

/** Drops a tenant created by createTenantDatabase (test clean-up only). */
export async function dropTenantDatabase(admin: ClientConfig, tenantId: string): Promise<void> {
    const names = tenantNames(tenantId);
    const server = new Client({ ...admin, database: "postgres" });
    await server.connect();
    try {
        await server.query(`DROP DATABASE IF EXISTS ${id(names.database)} WITH (FORCE)`);
        for (const role of [names.appRole, names.readonlyRole, names.migratorRole, names.ownerRole]) {
            await server.query(`DROP ROLE IF EXISTS ${id(role)}`);
        }
    } finally {
        await server.end();
    }
}

/**
 * What the program manages for some tenants, read back from a server's catalog: roles and their
 * attributes and settings, memberships, databases with their ACLs and settings, the maintenance
 * databases' ACLs, and per database the schemas, extensions and default ACLs. Lists are sorted, so two servers that hold the same
 * objects give deep-equal snapshots (the harness guard and the real-engine differential test).
 */
import type { ClientConfig } from "pg";
import { MAINTENANCE_DATABASES, tenantNames } from "../../src/naming";
import { withClient } from "./server";

export interface CatalogOptions {
    /**
     * "verifier" keeps each role's stored password verifier (same server, same passwords);
     * "presence" keeps only whether it has one (two servers: SCRAM salts differ).
     */
    readonly passwords: "verifier" | "presence";
}

const sortedAcl = (column: string) => `ARRAY(SELECT unnest(${column}::text[]) ORDER BY 1)`;

export async function catalogSnapshot(admin: ClientConfig, tenantIds: readonly string[], options: CatalogOptions): Promise<unknown> {
    const roleNames = tenantIds.flatMap((id) => {
        const names = tenantNames(id);
        return [names.ownerRole, names.appRole, names.readonlyRole, names.migratorRole];
    });
    const databaseNames = tenantIds.map((id) => tenantNames(id).database);
    const password = options.passwords === "verifier" ? "a.rolpassword" : "a.rolpassword IS NOT NULL AS has_password";
    const server = await withClient(admin, "postgres", async (client) => ({
        roles: (
            await client.query(
                `SELECT a.rolname, ${password}, a.rolsuper, a.rolcreatedb, a.rolcreaterole, a.rolinherit, a.rolcanlogin, a.rolreplication, a.rolbypassrls,
                    a.rolconnlimit, a.rolvaliduntil, ARRAY(SELECT unnest(r.rolconfig) ORDER BY 1) AS rolconfig
             FROM pg_authid a JOIN pg_roles r ON r.oid = a.oid WHERE a.rolname = ANY($1) ORDER BY 1`,
                [roleNames],
            )
        ).rows,
        memberships: (
            await client.query(
                `SELECT pg_get_userbyid(m.member) AS member, pg_get_userbyid(m.roleid) AS role, m.admin_option
             FROM pg_auth_members m WHERE pg_get_userbyid(m.member) = ANY($1) OR pg_get_userbyid(m.roleid) = ANY($1) ORDER BY 1, 2`,
                [roleNames],
            )
        ).rows,
        databases: (
            await client.query(
                `SELECT datname, pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding, datcollate, datctype, datconnlimit,
                    datallowconn, datistemplate, ${sortedAcl("datacl")} AS acl
             FROM pg_database WHERE datname = ANY($1) ORDER BY 1`,
                [databaseNames],
            )
        ).rows,
        // What every server's component declares: PUBLIC out of the maintenance databases.
        maintenance: (
            await client.query(`SELECT datname, ${sortedAcl("datacl")} AS acl FROM pg_database WHERE datname = ANY($1) ORDER BY 1`, [
                [...MAINTENANCE_DATABASES],
            ])
        ).rows,
        settings: (
            await client.query(
                `SELECT coalesce(d.datname, '') AS database, coalesce(pg_get_userbyid(NULLIF(s.setrole, 0)), '') AS role, ARRAY(SELECT unnest(s.setconfig) ORDER BY 1) AS config
             FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
             WHERE d.datname = ANY($1) OR pg_get_userbyid(NULLIF(s.setrole, 0)) = ANY($2) ORDER BY 1, 2`,
                [databaseNames, roleNames],
            )
        ).rows,
    }));
    const databases: Record<string, unknown> = {};
    for (const database of databaseNames) {
        databases[database] = await withClient(admin, database, async (client) => ({
            schemas: (
                await client.query(
                    `SELECT nspname, pg_get_userbyid(nspowner) AS owner, ${sortedAcl("nspacl")} AS acl FROM pg_namespace
                 WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
                )
            ).rows,
            extensions: (
                await client.query(
                    "SELECT extname, extnamespace::regnamespace::text AS schema, pg_get_userbyid(extowner) AS owner FROM pg_extension ORDER BY 1",
                )
            ).rows,
            defaults: (
                await client.query(
                    `SELECT pg_get_userbyid(defaclrole) AS owner, defaclnamespace::regnamespace::text AS schema, defaclobjtype, ${sortedAcl("defaclacl")} AS acl
                 FROM pg_default_acl ORDER BY 1, 2, 3`,
                )
            ).rows,
        }));
    }
    return { server, databases };
}

/**
 * Ownership and privileges of a restored database. pg_restore runs with --no-owner as the
 * admin (ACLs restored, so objects a migration closed to PUBLIC stay closed), so everything it
 * creates belongs to the admin; this hands every object to the tenant's owner role and
 * re-applies the grants and default privileges the TenantDatabase component declares.
 *
 * KEEP IN STEP with components/tenant-database.ts (a test compares the lists).
 * Restore verifies the result against the owners and privileges recorded at backup time, so
 * a drift between this file and the component fails the restore instead of passing silently.
 */
import { ClientBase } from "pg";
import { BUSINESS_SCHEMAS, TenantNames } from "../naming";
import { DatabaseSnapshot } from "./manifest";
import { quoteIdentifier as ident, quoteLiteral as literal } from "../shared/sql";

/** Table privileges of the app role in business schemas (components/tenant-database.ts; a test keeps them equal). */
export const APP_TABLE_PRIVILEGES = ["DELETE", "INSERT", "SELECT", "UPDATE"];
/** The audit trail is append-only for the app: rows arrive through a SECURITY DEFINER trigger. */
export const APP_AUDIT_TABLE_PRIVILEGES = ["SELECT"];
export const APP_SEQUENCE_PRIVILEGES = ["SELECT", "USAGE"];
export const READONLY_TABLE_PRIVILEGES = ["SELECT"];

/**
 * Gives every object the admin owns in the connected database (except extension members)
 * to `ownerRole`. Deliberately not REASSIGN OWNED: that also hands over the admin's shared
 * objects, i.e. every other database the admin owns on the server.
 */
export async function transferOwnership(client: ClientBase, ownerRole: string): Promise<number> {
    const notExtensionMember = (catalog: string, oid: string) =>
        `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
    const userSchema = `n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'`;
    const { rows } = await client.query<{ statement: string }>(
        `WITH me AS (SELECT oid FROM pg_roles WHERE rolname = current_user)
         SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, $1::text) AS statement
           FROM pg_namespace n WHERE n.nspowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_namespace", "n.oid")}
         UNION ALL
         SELECT format('ALTER %s %I.%I OWNER TO %I',
                       CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                      WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, n.nspname, c.relname, $1::text)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_class", "c.oid")}
            AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            -- sequences owned by a column follow their table
            AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                  AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')))
         UNION ALL
         SELECT format('ALTER %s %s OWNER TO %I', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                       p.oid::regprocedure, $1::text)
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE p.proowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_proc", "p.oid")}
         UNION ALL
         SELECT format('ALTER %s %s OWNER TO %I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype, $1::text)
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_type", "t.oid")}
            AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
            AND (t.typrelid = 0 OR (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = 'c')
            AND NOT EXISTS (SELECT 1 FROM pg_type elem WHERE elem.typarray = t.oid)
         UNION ALL
         SELECT format('ALTER COLLATION %I.%I OWNER TO %I', n.nspname, o.collname, $1::text)
           FROM pg_collation o JOIN pg_namespace n ON n.oid = o.collnamespace
          WHERE o.collowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_collation", "o.oid")}
         UNION ALL
         SELECT format('ALTER TEXT SEARCH CONFIGURATION %I.%I OWNER TO %I', n.nspname, o.cfgname, $1::text)
           FROM pg_ts_config o JOIN pg_namespace n ON n.oid = o.cfgnamespace
          WHERE o.cfgowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_ts_config", "o.oid")}
         UNION ALL
         SELECT format('ALTER TEXT SEARCH DICTIONARY %I.%I OWNER TO %I', n.nspname, o.dictname, $1::text)
           FROM pg_ts_dict o JOIN pg_namespace n ON n.oid = o.dictnamespace
          WHERE o.dictowner = (SELECT oid FROM me) AND ${userSchema} AND ${notExtensionMember("pg_ts_dict", "o.oid")}
         UNION ALL
         SELECT format('ALTER STATISTICS %I.%I OWNER TO %I', n.nspname, o.stxname, $1::text)
           FROM pg_statistic_ext o JOIN pg_namespace n ON n.oid = o.stxnamespace
          WHERE o.stxowner = (SELECT oid FROM me) AND ${userSchema}
         UNION ALL
         SELECT format('ALTER LARGE OBJECT %s OWNER TO %I', o.oid, $1::text)
           FROM pg_largeobject_metadata o WHERE o.lomowner = (SELECT oid FROM me)`,
        [ownerRole],
    );
    for (const { statement } of rows) await client.query(statement);
    return rows.length;
}

/**
 * The grants and default privileges the component declares inside a tenant database, for
 * the business schemas present, applied to the objects that already exist as well (they
 * were created by pg_restore, not by the owner role, so default privileges never fired).
 */
export async function applyDeclaredSchemaPrivileges(client: ClientBase, names: TenantNames): Promise<void> {
    const { rows } = await client.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])`, [
        [...BUSINESS_SCHEMAS],
    ]);
    const present = new Set(rows.map((row) => row.nspname));
    const owner = ident(names.ownerRole);
    const app = ident(names.appRole);
    const readonly = ident(names.readonlyRole);
    for (const schema of BUSINESS_SCHEMAS) {
        if (!present.has(schema)) continue;
        const s = ident(schema);
        const appTablePrivileges = (schema === "audit" ? APP_AUDIT_TABLE_PRIVILEGES : APP_TABLE_PRIVILEGES).join(", ");
        const appSequencePrivileges = APP_SEQUENCE_PRIVILEGES.join(", ");
        const readonlyTablePrivileges = READONLY_TABLE_PRIVILEGES.join(", ");
        await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${app}, ${readonly}`);
        await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT ${appTablePrivileges} ON TABLES TO ${app}`);
        await client.query(
            `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT ${appSequencePrivileges} ON SEQUENCES TO ${app}`,
        );
        await client.query(
            `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT ${readonlyTablePrivileges} ON TABLES TO ${readonly}`,
        );
        await client.query(`GRANT ${appTablePrivileges} ON ALL TABLES IN SCHEMA ${s} TO ${app}`);
        await client.query(`GRANT ${appSequencePrivileges} ON ALL SEQUENCES IN SCHEMA ${s} TO ${app}`);
        const narrowed = await readonlyColumnGrants(client, schema, names.readonlyRole);
        await client.query(`GRANT ${readonlyTablePrivileges} ON ALL TABLES IN SCHEMA ${s} TO ${readonly}`);
        // Tables a migration narrowed to some columns for readonly (credentials withheld) stay narrowed;
        // revoking the table privilege drops its column privileges too, so they are granted again.
        for (const { table, columns } of narrowed) {
            await client.query(`REVOKE SELECT ON ${table} FROM ${readonly}`);
            await client.query(`GRANT SELECT (${columns}) ON ${table} TO ${readonly}`);
        }
    }
}

/** Tables of `schema` where `role` may SELECT some columns (column privileges) but not the table. */
async function readonlyColumnGrants(client: ClientBase, schema: string, role: string): Promise<{ table: string; columns: string }[]> {
    const { rows } = await client.query<{ table: string; columns: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS table, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS columns
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
          WHERE n.nspname = $1 AND a.attnum > 0 AND NOT a.attisdropped
            AND EXISTS (SELECT 1 FROM aclexplode(a.attacl) x WHERE x.grantee = $2::regrole AND x.privilege_type = 'SELECT')
            AND NOT EXISTS (SELECT 1 FROM aclexplode(c.relacl) x WHERE x.grantee = $2::regrole AND x.privilege_type = 'SELECT')
          GROUP BY n.nspname, c.relname ORDER BY 1`,
        [schema, role],
    );
    return rows;
}

/**
 * Database-level state, run from the maintenance database: the owner, the component's
 * database grants, and the connection limit and settings recorded at backup time (pg_restore
 * only restores those with --create, which cannot restore under another name).
 */
export async function applyDatabaseProperties(
    client: ClientBase,
    database: string,
    names: TenantNames,
    recorded: DatabaseSnapshot,
): Promise<void> {
    const db = ident(database);
    await client.query(`ALTER DATABASE ${db} OWNER TO ${ident(names.ownerRole)}`);
    await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    await client.query(
        `GRANT CONNECT ON DATABASE ${db} TO ${ident(names.appRole)}, ${ident(names.readonlyRole)}, ${ident(names.migratorRole)}`,
    );
    await client.query(`ALTER DATABASE ${db} WITH CONNECTION LIMIT ${Math.trunc(recorded.connectionLimit)}`);
    for (const entry of recorded.settings) await client.query(settingStatement(`DATABASE ${db}`, entry));
    for (const { role, settings } of recorded.roleSettings) {
        for (const entry of settings) await client.query(settingStatement(`ROLE ${ident(role)} IN DATABASE ${db}`, entry));
    }
}

/** Settings whose value is a list of (possibly quoted) names, as pg_dump's variable_is_guc_list_quote. */
const LIST_SETTINGS = new Set([
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
]);

/** `ALTER <target> SET name = value` from a pg_db_role_setting entry `name=value`. */
export function settingStatement(target: string, entry: string): string {
    const at = entry.indexOf("=");
    if (at <= 0) throw new Error(`Malformed setting ${JSON.stringify(entry)}.`);
    const name = entry.slice(0, at);
    const value = entry.slice(at + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/.test(name))
        throw new Error(`Unexpected setting name ${JSON.stringify(name)}.`);
    const quotedName = name
        .split(".")
        .map((part) => ident(part.toLowerCase()))
        .join(".");
    const quotedValue = LIST_SETTINGS.has(name.toLowerCase())
        ? splitSettingList(value)
              .map((item) => literal(item))
              .join(", ")
        : literal(value);
    return `ALTER ${target} SET ${quotedName} = ${quotedValue || "''"}`;
}

/** Splits a flattened list setting (`"$user", public`) into its elements, as SplitGUCList does. */
export function splitSettingList(value: string): string[] {
    const elements: string[] = [];
    let i = 0;
    const skipSpace = () => {
        while (i < value.length && /\s/.test(value[i])) i++;
    };
    skipSpace();
    if (i >= value.length) return elements;
    for (;;) {
        let element = "";
        if (value[i] === '"') {
            i++;
            for (;;) {
                if (i >= value.length) throw new Error(`Unterminated quote in setting value ${JSON.stringify(value)}.`);
                if (value[i] === '"') {
                    if (value[i + 1] === '"') {
                        element += '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                element += value[i++];
            }
        } else {
            while (i < value.length && value[i] !== "," && !/\s/.test(value[i])) element += value[i++];
        }
        elements.push(element);
        skipSpace();
        if (i >= value.length) return elements;
        if (value[i] !== ",") throw new Error(`Unexpected character in setting value ${JSON.stringify(value)}.`);
        i++;
        skipSpace();
    }
}

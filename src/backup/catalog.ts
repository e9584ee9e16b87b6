/**
 * What a backup records about a tenant database and a restore verifies: exact row counts
 * per table, the schema version, owners and privileges of every object, and the
 * database-level properties that pg_restore does not restore without --create.
 * Each reader takes a connected client, so backup runs them inside the exported snapshot.
 */
import { ClientBase } from "pg";
import { MIGRATIONS_SCHEMA } from "../naming";
import { DatabaseSnapshot, ObjectSnapshot } from "./manifest";
import { quoteIdentifier as ident } from "../shared/sql";

/** Not tenant data: system schemas. */
export const USER_SCHEMA = `n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'`;
/** Objects created by an extension come back with CREATE EXTENSION; they are not the tenant's. */
export const notExtensionMember = (catalog: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
/** Privileges as a sorted text array of `grantee=PRIVILEGE[*]`; a NULL acl means the defaults, made explicit. */
const aclArray = (acl: string) =>
    `ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || '=' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END AS entry
           FROM aclexplode(${acl}) a ORDER BY 1)`;

export interface ServerVersion {
    readonly text: string;
    readonly num: number;
    readonly major: number;
}

export async function readServerVersion(client: ClientBase): Promise<ServerVersion> {
    const { rows } = await client.query<{ text: string; num: string }>(
        "SELECT current_setting('server_version') AS text, current_setting('server_version_num') AS num",
    );
    const num = Number(rows[0].num);
    return { text: rows[0].text.split(" ")[0], num, major: Math.floor(num / 10000) };
}

/**
 * The schema version recorded by the migration runner in `tenantdb.migrations`: the name of
 * the latest applied migration (names sort in apply order) and how many are applied.
 * A database without the table has schema version `none`.
 */
export async function readSchemaVersion(client: ClientBase): Promise<{ schemaVersion: string; migrationsApplied: number }> {
    const { rows: columns } = await client.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'migrations'`,
        [MIGRATIONS_SCHEMA],
    );
    if (columns.length === 0) return { schemaVersion: "none", migrationsApplied: 0 };
    const table = `${ident(MIGRATIONS_SCHEMA)}.${ident("migrations")}`;
    const nameColumn = ["name", "version", "id"].find((candidate) => columns.some((c) => c.column_name === candidate));
    if (!nameColumn) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        return { schemaVersion: rows[0].n === 0 ? "none" : `${rows[0].n} applied`, migrationsApplied: rows[0].n };
    }
    const { rows } = await client.query<{ n: number; latest: string | null }>(
        `SELECT count(*)::int AS n, max(${ident(nameColumn)}::text) AS latest FROM ${table}`,
    );
    return { schemaVersion: rows[0].latest ?? "none", migrationsApplied: rows[0].n };
}

/** Every table holding tenant rows (leaf tables: partitions count, their parents do not). */
export async function listTables(client: ClientBase): Promise<string[]> {
    const { rows } = await client.query<{ name: string }>(
        `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
          ORDER BY n.nspname, c.relname`,
    );
    return rows.map((row) => row.name);
}

/**
 * Exact row counts of every table, in one statement (so in one snapshot even outside a
 * REPEATABLE READ transaction). Row-level security is switched off: a policy that would hide
 * rows makes the count fail instead of silently lying, exactly as pg_dump does.
 */
export async function countRows(client: ClientBase): Promise<Record<string, number>> {
    const tables = await listTables(client);
    if (tables.length === 0) return {};
    await client.query("SET row_security = off");
    // Table names come from quote_ident above; they are also passed as parameters for the labels.
    const sql = tables.map((table, i) => `SELECT $${i + 1}::text AS name, count(*)::bigint AS n FROM ${table}`).join(" UNION ALL ");
    const { rows } = await client.query<{ name: string; n: string }>(sql, tables);
    const counts: Record<string, number> = {};
    for (const row of rows.sort((a, b) => (a.name < b.name ? -1 : 1))) counts[row.name] = Number(row.n);
    return counts;
}

/** Owners and privileges of schemas, relations, routines, types and default privileges. */
export async function readObjectSnapshot(client: ClientBase): Promise<ObjectSnapshot[]> {
    const { rows } = await client.query<ObjectSnapshot>(
        `SELECT kind, name, owner, acl FROM (
            SELECT 'schema' AS kind, quote_ident(n.nspname) AS name, pg_get_userbyid(n.nspowner) AS owner,
                   ${aclArray("coalesce(n.nspacl, acldefault('n'::\"char\", n.nspowner))")} AS acl
              FROM pg_namespace n WHERE ${USER_SCHEMA} AND ${notExtensionMember("pg_namespace", "n.oid")}
            UNION ALL
            SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                  WHEN 'S' THEN 'sequence' ELSE 'foreign table' END,
                   quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_get_userbyid(c.relowner),
                   ${aclArray("coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner))")}
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
            UNION ALL
            -- Column privileges: a table readonly may read only in part (credential columns withheld).
            SELECT 'column', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname),
                   pg_get_userbyid(c.relowner), ${aclArray("a.attacl")}
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
            UNION ALL
            SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
                   p.oid::regprocedure::text, pg_get_userbyid(p.proowner),
                   ${aclArray("coalesce(p.proacl, acldefault('f'::\"char\", p.proowner))")}
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE ${USER_SCHEMA} AND ${notExtensionMember("pg_proc", "p.oid")}
            UNION ALL
            SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, t.oid::regtype::text, pg_get_userbyid(t.typowner),
                   ${aclArray("coalesce(t.typacl, acldefault('T'::\"char\", t.typowner))")}
              FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE ${USER_SCHEMA} AND ${notExtensionMember("pg_type", "t.oid")}
               AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
               AND (t.typrelid = 0 OR (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = 'c')
               AND NOT EXISTS (SELECT 1 FROM pg_type elem WHERE elem.typarray = t.oid)
            UNION ALL
            SELECT 'default privileges',
                   'for ' || pg_get_userbyid(d.defaclrole) || ' in ' || coalesce(quote_ident(n.nspname), '(all schemas)') || ' on ' ||
                   CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' ELSE 'schemas' END,
                   pg_get_userbyid(d.defaclrole), ${aclArray("d.defaclacl")}
              FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
         ) objects ORDER BY kind, name`,
    );
    return rows.map((row) => ({ kind: row.kind, name: row.name, owner: row.owner, acl: [...row.acl] }));
}

/** Database-level properties: owner, locale, connection limit, privileges and settings. */
export async function readDatabaseSnapshot(client: ClientBase, database: string): Promise<DatabaseSnapshot> {
    const { rows } = await client.query<{
        owner: string;
        encoding: string;
        connection_limit: number;
        acl: string[];
        props: Record<string, unknown>;
        settings: string[] | null;
    }>(
        `SELECT pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding, d.datconnlimit AS connection_limit,
                ${aclArray("coalesce(d.datacl, acldefault('d'::\"char\", d.datdba))")} AS acl, to_jsonb(d) AS props,
                (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings
           FROM pg_database d WHERE d.datname = $1`,
        [database],
    );
    if (rows.length === 0) throw new Error(`database ${database} does not exist`);
    const row = rows[0];
    const { rows: roleRows } = await client.query<{ role: string; settings: string[] }>(
        `SELECT pg_get_userbyid(s.setrole) AS role, s.setconfig AS settings
           FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
          WHERE d.datname = $1 AND s.setrole <> 0 ORDER BY 1`,
        [database],
    );
    const provider = String(row.props.datlocprovider ?? "c");
    // PostgreSQL 15/16 call it daticulocale, 17 renamed it datlocale.
    const iculocale = (row.props.daticulocale ?? row.props.datlocale ?? null) as string | null;
    return {
        owner: row.owner,
        encoding: row.encoding,
        collate: String(row.props.datcollate),
        ctype: String(row.props.datctype),
        localeProvider: provider === "i" ? "icu" : provider === "b" ? "builtin" : "libc",
        iculocale,
        connectionLimit: row.connection_limit,
        acl: [...row.acl],
        settings: [...(row.settings ?? [])].sort(),
        roleSettings: roleRows.map((r) => ({ role: r.role, settings: [...r.settings].sort() })),
    };
}

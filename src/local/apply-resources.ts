/**
 * One function per declared resource kind: read the object from the catalog, then create it
 * when missing, alter what differs from the declaration, or leave it alone. The SQL comes from
 * declared-sql.ts (the provider's statements); apply-declared.ts orders the calls.
 */
import type { Client } from "pg";
import type * as declared from "./declared-resources";
import * as sql from "./declared-sql";
import { passwordMatches } from "./password-verifier";
import { quoteLiteral } from "../shared/sql";

/** What applying one resource did. */
export type Outcome = "created" | "updated" | "unchanged";

/** The admin session the resources are applied with. */
export interface Context {
    readonly server: string;
    readonly user: string;
    readonly superuser: boolean;
}

async function run(client: Client, statements: readonly string[], transaction = true): Promise<void> {
    if (!transaction) {
        for (const statement of statements) await client.query(statement);
        return;
    }
    await client.query("BEGIN");
    try {
        for (const statement of statements) await client.query(statement);
        await client.query("COMMIT");
    } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
    }
}

/**
 * As the provider's withRolesGranted/grantRoleMembership: a non-superuser admin is made a
 * member of `roles` for the duration of `body` (to create objects owned by them), then not.
 */
async function asMemberOf<T>(client: Client, context: Context, roles: readonly (string | undefined)[], body: () => Promise<T>): Promise<T> {
    if (context.superuser) return body();
    const granted: string[] = [];
    for (const role of new Set(roles.filter((r): r is string => !!r && r !== context.user))) {
        const member = await client.query(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND u.rolname = $2",
            [role, context.user],
        );
        if (member.rowCount) continue;
        await client.query(sql.grantMembership(context.user, role, "the admin"));
        granted.push(role);
    }
    try {
        return await body();
    } finally {
        for (const role of granted) await client.query(sql.revokeMembership(context.user, role, "the admin"));
    }
}

export async function applyRole(client: Client, context: Context, role: declared.DeclaredRole): Promise<Outcome> {
    const found = await client.query(
        `SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolinherit, r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit,
                coalesce(r.rolconfig, '{}') AS config,
                ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of
         FROM pg_roles r WHERE r.rolname = $1`,
        [role.name],
    );
    if (found.rowCount === 0) {
        await run(client, sql.createRole(role));
        return "created";
    }
    const current = found.rows[0];
    const actual: Partial<Record<keyof declared.DeclaredRole, boolean>> = {
        superuser: current.rolsuper,
        createDatabase: current.rolcreatedb,
        createRole: current.rolcreaterole,
        inherit: current.rolinherit,
        login: current.rolcanlogin,
        replication: current.rolreplication,
        bypassRowLevelSecurity: current.rolbypassrls,
    };
    const statements: string[] = [];
    if (role.password) {
        const verifier = context.superuser
            ? ((await client.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role.name])).rows[0]?.rolpassword ?? null)
            : null;
        if (!passwordMatches(verifier, role.name, role.password)) statements.push(sql.setRolePassword(role));
    }
    for (const attribute of sql.ROLE_FLAG_ATTRIBUTES)
        if (actual[attribute] !== role[attribute]) statements.push(sql.alterRoleFlag(role, attribute));
    if (current.rolconnlimit !== role.connectionLimit) statements.push(sql.setRoleConnectionLimit(role));
    const memberOf: string[] = current.member_of;
    for (const of of memberOf) if (!role.roles.includes(of)) statements.push(sql.revokeMembership(role.name, of, role.resourceName));
    for (const of of role.roles) if (!memberOf.includes(of)) statements.push(sql.grantMembership(role.name, of, role.resourceName));
    const settings = new Map<string, string>(
        (current.config as string[]).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
    );
    if (settings.has("search_path")) statements.push(sql.resetSearchPath(role));
    for (const [setting, value] of [
        ["statement_timeout", role.statementTimeout],
        ["idle_in_transaction_session_timeout", role.idleInTransactionSessionTimeout],
    ] as const) {
        if (value === 0 ? settings.has(setting) : settings.get(setting) !== String(value))
            statements.push(sql.setRoleTimeout(role, setting));
    }
    if (role.assumeRole ? settings.get("role") !== role.assumeRole : settings.has("role")) statements.push(sql.setAssumeRole(role));
    if (statements.length === 0) return "unchanged";
    await run(client, statements);
    return "updated";
}

export async function applyGrantRole(client: Client, _context: Context, grant: declared.DeclaredGrantRole): Promise<Outcome> {
    const statements = sql.grantRole(grant);
    const found = await client.query(
        "SELECT m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND u.rolname = $2",
        [grant.grantRole, grant.role],
    );
    if (found.rowCount && found.rows[0].admin_option === grant.withAdminOption) return "unchanged";
    await run(client, statements);
    return found.rowCount ? "updated" : "created";
}

export async function applyDatabase(client: Client, context: Context, database: declared.DeclaredDatabase): Promise<Outcome> {
    const found = await client.query(
        `SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding, datcollate, datctype, datconnlimit, datallowconn, datistemplate
         FROM pg_database WHERE datname = $1`,
        [database.name],
    );
    if (found.rowCount === 0) {
        const statement = sql.createDatabase(database, context.user);
        await asMemberOf(client, context, [database.owner], () => run(client, [statement], false));
        return "created";
    }
    const current = found.rows[0];
    for (const [argument, declared, actual] of [
        ["encoding", database.encoding ?? "UTF8", current.encoding],
        ["lcCollate", database.lcCollate, current.datcollate],
        ["lcCtype", database.lcCtype, current.datctype],
    ] as const) {
        if (declared && declared.toUpperCase() !== "DEFAULT" && declared.toLowerCase() !== String(actual).toLowerCase()) {
            throw new Error(
                `declared ${argument} ${declared} but the database has ${actual}; the provider would replace the database, which this harness never does`,
            );
        }
    }
    const statements: string[] = [];
    if (database.owner && current.owner !== database.owner) statements.push(sql.alterDatabase(database, "owner"));
    if (current.datconnlimit !== database.connectionLimit) statements.push(sql.alterDatabase(database, "connectionLimit"));
    if (current.datallowconn !== database.allowConnections) statements.push(sql.alterDatabase(database, "allowConnections"));
    if (current.datistemplate !== database.isTemplate) statements.push(sql.alterDatabase(database, "isTemplate"));
    if (statements.length === 0) return "unchanged";
    await asMemberOf(client, context, [database.owner], () => run(client, statements, false));
    return "updated";
}

export async function applyExtension(client: Client, _context: Context, extension: declared.DeclaredExtension): Promise<Outcome> {
    const statement = sql.createExtension(extension);
    const found = await client.query(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1",
        [extension.name],
    );
    if (found.rowCount === 0) {
        await run(client, [statement]);
        return "created";
    }
    if (!extension.schema || found.rows[0].nspname === extension.schema) return "unchanged";
    await run(client, [sql.alterExtensionSchema(extension)]);
    return "updated";
}

export async function applySchema(client: Client, context: Context, schema: declared.DeclaredSchema): Promise<Outcome> {
    const statement = sql.createSchema(schema);
    const found = await client.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1", [schema.name]);
    if (found.rowCount && (!schema.owner || found.rows[0].owner === schema.owner)) return "unchanged";
    const databaseOwner = (
        await client.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()")
    ).rows[0].owner;
    const statements = found.rowCount ? [sql.alterSchemaOwner(schema)] : [statement];
    await asMemberOf(client, context, [databaseOwner, schema.owner], () => run(client, statements));
    return found.rowCount ? "updated" : "created";
}

/** Privileges `role` (or PUBLIC) holds on an object, from its ACL (or the default ACL when NULL). */
async function heldPrivileges(client: Client, aclQuery: string, args: unknown[]): Promise<{ privileges: string[]; grantable: boolean }> {
    const result = await client.query(
        `SELECT coalesce(array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type), '{}') AS privileges, coalesce(bool_or(a.is_grantable), false) AS grantable
         FROM (${aclQuery}) acl, aclexplode(acl.acl) a
         WHERE a.grantee = CASE WHEN $1 = 'public' THEN 0::oid ELSE (SELECT oid FROM pg_roles WHERE rolname = $1) END`,
        args,
    );
    return result.rows[0];
}

function matches(held: { privileges: string[]; grantable: boolean }, objectType: string, declared: readonly string[]): boolean {
    return !held.grantable && JSON.stringify(held.privileges) === JSON.stringify(sql.expandPrivileges(objectType, declared));
}

export async function applyGrant(client: Client, context: Context, grant: declared.DeclaredGrant): Promise<Outcome> {
    const statements = sql.grant(grant);
    const held =
        grant.objectType === "database"
            ? await heldPrivileges(client, "SELECT coalesce(datacl, acldefault('d', datdba)) AS acl FROM pg_database WHERE datname = $2", [
                  grant.role,
                  grant.database,
              ])
            : await heldPrivileges(
                  client,
                  "SELECT coalesce(nspacl, acldefault('n', nspowner)) AS acl FROM pg_namespace WHERE nspname = $2",
                  [grant.role, grant.schema],
              );
    if (matches(held, grant.objectType, grant.privileges)) return "unchanged";
    const owners =
        grant.objectType === "schema"
            ? [
                  (await client.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1", [grant.schema]))
                      .rows[0]?.owner,
              ]
            : [];
    // Concurrent GRANT/REVOKEs on one pg_database row fail with "tuple concurrently updated" (two
    // harness runs declaring one server's maintenance-database grants), so the harness serializes
    // them with a transaction-level advisory lock.
    const serialized =
        grant.objectType === "database"
            ? [`SELECT pg_advisory_xact_lock(hashtext(${quoteLiteral(`tenantdb grant on database ${grant.database}`)}))`, ...statements]
            : statements;
    await asMemberOf(client, context, owners, () => run(client, serialized));
    return held.privileges.length === 0 ? "created" : "updated";
}

const DEFAULT_ACL_TYPES = { table: "r", sequence: "S", function: "f", type: "T" } as const;

export async function applyDefaultPrivileges(
    client: Client,
    context: Context,
    defaults: declared.DeclaredDefaultPrivileges,
): Promise<Outcome> {
    const statements = sql.defaultPrivileges(defaults);
    const held = await heldPrivileges(
        client,
        `SELECT d.defaclacl AS acl FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
         WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = $2) AND n.nspname = $3 AND d.defaclobjtype = $4`,
        [defaults.role, defaults.owner, defaults.schema, DEFAULT_ACL_TYPES[defaults.objectType]],
    );
    if (matches(held, defaults.objectType, defaults.privileges)) return "unchanged";
    await asMemberOf(client, context, [defaults.owner], () => run(client, statements));
    return held.privileges.length === 0 ? "created" : "updated";
}

/** Roles before the roles that are members of them or assume them. */
export function inMembershipOrder(roles: readonly declared.DeclaredRole[]): declared.DeclaredRole[] {
    const byName = new Map(roles.map((role) => [role.name, role]));
    const ordered: declared.DeclaredRole[] = [];
    const visit = (role: declared.DeclaredRole, path: Set<string>) => {
        if (ordered.includes(role)) return;
        if (path.has(role.name)) throw new Error(`roles ${[...path].join(", ")} are members of each other`);
        path.add(role.name);
        for (const dependency of [...role.roles, role.assumeRole]) {
            const declared = dependency ? byName.get(dependency) : undefined;
            if (declared) visit(declared, path);
        }
        path.delete(role.name);
        ordered.push(role);
    };
    for (const role of roles) visit(role, new Set());
    return ordered;
}

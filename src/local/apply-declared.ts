/**
 * Applies the PostgreSQL resources the Pulumi program declares (as an offline evaluation
 * recorded them) to a real PostgreSQL server, with the SQL of the @pulumi/postgresql provider.
 * A test and development harness (security tests, the `npm start` sandbox): the product
 * deploys through `pulumi up`.
 *
 * What it does: for one server (the resources whose provider is `server-<name>-postgresql`),
 * roles (in membership order) and role grants, then per database: the database, and connected
 * to it, its extensions, schemas, grants and default privileges. Each resource is read from the
 * catalog first: created when missing, altered where it differs from what is declared, left
 * alone when it matches, so a second apply changes nothing (passwords are compared with the
 * stored SCRAM/md5 verifier when the admin is a superuser; otherwise they are always set). SQL
 * is the provider's (src/local/declared-sql.ts): grants and default privileges REVOKE ALL then
 * GRANT in one transaction, `assumeRole` is `ALTER ROLE ... SET ROLE`, and so on. A non-superuser
 * admin is temporarily made a member of the owners it needs, as the provider does.
 *
 * What it does not cover: no state and no deletes (a resource removed from the program stays,
 * as `retainOnDelete` would keep it anyway); no replacement (a change to a database's encoding,
 * collation, ctype or template is refused with an error, where `pulumi up` would replace);
 * no drift report beyond the summary's counts; only the arguments tenantdb uses (anything else is
 * refused in declared-resources.ts): roles without search_path, valid_until or password_wo,
 * grants on databases and schemas only, default privileges in a schema only, extensions without
 * version; no advisory locks (one apply at a time per server); the provider's
 * reverse-membership dance for non-superusers is not reproduced.
 */
import { Client } from "pg";
import pLimit from "p-limit";
import type { OfflineEvaluation } from "../program/offline";
import {
    DECLARED_KINDS, DeclaredDatabase, DeclaredDefaultPrivileges, DeclaredExtension, DeclaredGrant, DeclaredGrantRole, DeclaredKind,
    DeclaredRole, DeclaredSchema, declaredResources, declaredServers,
} from "./declared-resources";
import * as sql from "./declared-sql";
import { passwordMatches } from "./password-verifier";

/** Admin connection to the server (the provider's username and password). */
export interface AdminConnection {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    /** Maintenance database for server-wide statements. Defaults to `postgres`. */
    readonly database?: string;
}

export interface ApplyOptions {
    /** The server (its name in `tenantdb:servers`). Defaults to the only one with PostgreSQL resources. */
    readonly server?: string;
    /** Databases applied at once. Defaults to 1. */
    readonly parallel?: number;
}

export interface ApplyCounts { created: number; updated: number; unchanged: number }

export interface ApplySummary {
    readonly server: string;
    readonly counts: Record<DeclaredKind, ApplyCounts>;
    /** Resources created or updated; 0 when the server already matched the program. */
    readonly changed: number;
}

type Outcome = keyof ApplyCounts;

/** A failed resource: names the server, the resource and the step; never holds a password. */
export class ApplyDeclaredError extends Error {
    constructor(readonly server: string, readonly resource: string, readonly step: string, cause: unknown, secrets: readonly string[]) {
        let detail = cause instanceof Error ? cause.message : String(cause);
        for (const secret of secrets) if (secret) detail = detail.split(secret).join("[redacted]");
        super(`server ${server}: ${resource}: ${step} failed: ${detail}`, { cause: cause instanceof Error ? sanitise(cause, detail) : undefined });
        this.name = "ApplyDeclaredError";
    }
}

function sanitise(cause: Error, message: string): Error {
    const copy = new Error(message);
    copy.name = cause.name;
    Object.assign(copy, { code: (cause as { code?: string }).code });
    return copy;
}

interface Context {
    readonly server: string;
    readonly admin: AdminConnection;
    readonly user: string;
    readonly superuser: boolean;
    readonly secrets: readonly string[];
}

async function connect(admin: AdminConnection, database: string): Promise<Client> {
    const client = new Client({ host: admin.host, port: admin.port, user: admin.user, password: admin.password, database, application_name: "tenantdb-apply" });
    await client.connect();
    return client;
}

async function withClient<T>(admin: AdminConnection, database: string, use: (client: Client) => Promise<T>): Promise<T> {
    const client = await connect(admin, database);
    try {
        return await use(client);
    } finally {
        await client.end();
    }
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

async function applyRole(client: Client, context: Context, role: DeclaredRole): Promise<Outcome> {
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
    const actual: Partial<Record<keyof DeclaredRole, boolean>> = {
        superuser: current.rolsuper, createDatabase: current.rolcreatedb, createRole: current.rolcreaterole, inherit: current.rolinherit,
        login: current.rolcanlogin, replication: current.rolreplication, bypassRowLevelSecurity: current.rolbypassrls,
    };
    const statements: string[] = [];
    if (role.password) {
        const verifier = context.superuser
            ? (await client.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role.name])).rows[0]?.rolpassword ?? null
            : null;
        if (!passwordMatches(verifier, role.name, role.password)) statements.push(sql.setRolePassword(role));
    }
    for (const attribute of sql.ROLE_FLAG_ATTRIBUTES) if (actual[attribute] !== role[attribute]) statements.push(sql.alterRoleFlag(role, attribute));
    if (current.rolconnlimit !== role.connectionLimit) statements.push(sql.setRoleConnectionLimit(role));
    const memberOf: string[] = current.member_of;
    for (const of of memberOf) if (!role.roles.includes(of)) statements.push(sql.revokeMembership(role.name, of, role.resourceName));
    for (const of of role.roles) if (!memberOf.includes(of)) statements.push(sql.grantMembership(role.name, of, role.resourceName));
    const settings = new Map<string, string>((current.config as string[]).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
    if (settings.has("search_path")) statements.push(sql.resetSearchPath(role));
    for (const [setting, value] of [["statement_timeout", role.statementTimeout], ["idle_in_transaction_session_timeout", role.idleInTransactionSessionTimeout]] as const) {
        if (value === 0 ? settings.has(setting) : settings.get(setting) !== String(value)) statements.push(sql.setRoleTimeout(role, setting));
    }
    if (role.assumeRole ? settings.get("role") !== role.assumeRole : settings.has("role")) statements.push(sql.setAssumeRole(role));
    if (statements.length === 0) return "unchanged";
    await run(client, statements);
    return "updated";
}

async function applyGrantRole(client: Client, _context: Context, grant: DeclaredGrantRole): Promise<Outcome> {
    const statements = sql.grantRole(grant);
    const found = await client.query(
        "SELECT m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND u.rolname = $2",
        [grant.grantRole, grant.role],
    );
    if (found.rowCount && found.rows[0].admin_option === grant.withAdminOption) return "unchanged";
    await run(client, statements);
    return found.rowCount ? "updated" : "created";
}

async function applyDatabase(client: Client, context: Context, database: DeclaredDatabase): Promise<Outcome> {
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
        ["encoding", database.encoding ?? "UTF8", current.encoding], ["lcCollate", database.lcCollate, current.datcollate], ["lcCtype", database.lcCtype, current.datctype],
    ] as const) {
        if (declared && declared.toUpperCase() !== "DEFAULT" && declared.toLowerCase() !== String(actual).toLowerCase()) {
            throw new Error(`declared ${argument} ${declared} but the database has ${actual}; the provider would replace the database, which this harness never does`);
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

async function applyExtension(client: Client, _context: Context, extension: DeclaredExtension): Promise<Outcome> {
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

async function applySchema(client: Client, context: Context, schema: DeclaredSchema): Promise<Outcome> {
    const statement = sql.createSchema(schema);
    const found = await client.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1", [schema.name]);
    if (found.rowCount && (!schema.owner || found.rows[0].owner === schema.owner)) return "unchanged";
    const databaseOwner = (await client.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()")).rows[0].owner;
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

async function applyGrant(client: Client, context: Context, grant: DeclaredGrant): Promise<Outcome> {
    const statements = sql.grant(grant);
    const held = grant.objectType === "database"
        ? await heldPrivileges(client, "SELECT coalesce(datacl, acldefault('d', datdba)) AS acl FROM pg_database WHERE datname = $2", [grant.role, grant.database])
        : await heldPrivileges(client, "SELECT coalesce(nspacl, acldefault('n', nspowner)) AS acl FROM pg_namespace WHERE nspname = $2", [grant.role, grant.schema]);
    if (matches(held, grant.objectType, grant.privileges)) return "unchanged";
    const owners = grant.objectType === "schema"
        ? [(await client.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1", [grant.schema])).rows[0]?.owner]
        : [];
    await asMemberOf(client, context, owners, () => run(client, statements));
    return held.privileges.length === 0 ? "created" : "updated";
}

const DEFAULT_ACL_TYPES = { table: "r", sequence: "S", function: "f", type: "T" } as const;

async function applyDefaultPrivileges(client: Client, context: Context, defaults: DeclaredDefaultPrivileges): Promise<Outcome> {
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
function inMembershipOrder(roles: readonly DeclaredRole[]): DeclaredRole[] {
    const byName = new Map(roles.map((role) => [role.name, role]));
    const ordered: DeclaredRole[] = [];
    const visit = (role: DeclaredRole, path: Set<string>) => {
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

function resolveServer(evaluation: OfflineEvaluation, server: string | undefined): string {
    const servers = declaredServers(evaluation);
    if (server !== undefined) {
        if (!servers.includes(server)) throw new Error(`No PostgreSQL resources are declared on server ${JSON.stringify(server)}; servers with some: ${servers.join(", ") || "none"}.`);
        return server;
    }
    if (servers.length !== 1) throw new Error(`Say which server to apply (options.server): the program declares PostgreSQL resources on ${servers.length === 0 ? "none" : servers.join(", ")}.`);
    return servers[0];
}

/**
 * Applies what the program declares on one server to the PostgreSQL server `admin` reaches, and
 * returns how many resources of each kind were created, updated or already matched.
 */
export async function applyDeclaredResources(evaluation: OfflineEvaluation, admin: AdminConnection, options: ApplyOptions = {}): Promise<ApplySummary> {
    const server = resolveServer(evaluation, options.server);
    const declared = declaredResources(evaluation, server);
    const counts = Object.fromEntries(DECLARED_KINDS.map((kind) => [kind, { created: 0, updated: 0, unchanged: 0 }])) as Record<DeclaredKind, ApplyCounts>;
    const secrets = [admin.password, ...declared.role.map((role) => role.password ?? "")];

    const step = async <T extends { resourceName: string }>(kind: DeclaredKind, client: Client, context: Context, resource: T, apply: (c: Client, x: Context, r: T) => Promise<Outcome>) => {
        try {
            counts[kind][await apply(client, context, resource)]++;
        } catch (error) {
            throw new ApplyDeclaredError(server, `${kind} ${resource.resourceName}`, kind === "database" ? "create or alter database" : `apply ${kind}`, error, secrets);
        }
    };

    const maintenance = admin.database ?? "postgres";
    const context = await withClient(admin, maintenance, async (client): Promise<Context> => {
        const me = (await client.query("SELECT current_user AS user, rolsuper FROM pg_roles WHERE rolname = current_user")).rows[0];
        const context = { server, admin, user: me.user as string, superuser: me.rolsuper as boolean, secrets };
        for (const role of inMembershipOrder(declared.role)) await step("role", client, context, role, applyRole);
        for (const grant of declared.grantRole) await step("grantRole", client, context, grant, applyGrantRole);
        return context;
    });

    const databases = [...new Set([
        ...declared.database.map((d) => d.name),
        ...[...declared.extension, ...declared.schema, ...declared.grant, ...declared.defaultPrivileges].map((r) => r.database),
    ])];
    const limit = pLimit(Math.max(1, options.parallel ?? 1));
    await Promise.all(databases.map((name) => limit(async () => {
        const database = declared.database.find((d) => d.name === name);
        if (database) await withClient(admin, maintenance, (client) => step("database", client, context, database, applyDatabase));
        await withClient(admin, name, async (client) => {
            for (const extension of declared.extension.filter((r) => r.database === name)) await step("extension", client, context, extension, applyExtension);
            for (const schema of declared.schema.filter((r) => r.database === name)) await step("schema", client, context, schema, applySchema);
            for (const grant of declared.grant.filter((r) => r.database === name)) await step("grant", client, context, grant, applyGrant);
            for (const defaults of declared.defaultPrivileges.filter((r) => r.database === name)) await step("defaultPrivileges", client, context, defaults, applyDefaultPrivileges);
        });
    })));

    const changed = DECLARED_KINDS.reduce((sum, kind) => sum + counts[kind].created + counts[kind].updated, 0);
    return { server, counts, changed };
}

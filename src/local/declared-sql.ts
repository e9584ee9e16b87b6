/**
 * The SQL the @pulumi/postgresql provider runs for each resource (its upstream,
 * cyrilgdn/terraform-provider-postgresql, files postgresql/resource_postgresql_*.go), as pure
 * functions. Every identifier goes through `identifier()` and every string literal through
 * `literal()` (src/shared/sql.ts: validated, then quoted); privileges
 * are keywords checked against the provider's list; numbers are checked integers.
 */
import { quoteIdentifier as identifier, quoteLiteral as literal } from "../shared/sql";
import type {
    DeclaredDatabase,
    DeclaredDefaultPrivileges,
    DeclaredExtension,
    DeclaredGrant,
    DeclaredGrantRole,
    DeclaredRole,
    DeclaredSchema,
} from "./declared-resources";

function integer(value: number, what: string): string {
    if (!Number.isSafeInteger(value)) throw new Error(`${what} must be an integer`);
    return String(value);
}

/** Privileges the provider accepts per object type (helpers.go, allowedPrivileges; MAINTAIN needs PostgreSQL 17). */
export const ALLOWED_PRIVILEGES: Record<string, readonly string[]> = {
    database: ["ALL", "CREATE", "CONNECT", "TEMPORARY"],
    schema: ["ALL", "CREATE", "USAGE"],
    table: ["ALL", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
    sequence: ["ALL", "USAGE", "SELECT", "UPDATE"],
    function: ["ALL", "EXECUTE"],
    type: ["ALL", "USAGE"],
};

export function privilegeList(objectType: string, privileges: readonly string[], what: string): string {
    const allowed = ALLOWED_PRIVILEGES[objectType];
    if (!allowed) throw new Error(`${what}: unknown object type ${JSON.stringify(objectType)}`);
    for (const privilege of privileges) {
        if (!allowed.includes(privilege))
            throw new Error(`${what}: ${JSON.stringify(privilege)} is not an allowed privilege for object type ${objectType}`);
    }
    return privileges.join(",");
}

/** What `ALL` stands for, to compare declared privileges with the catalog's. */
export function expandPrivileges(objectType: string, privileges: readonly string[]): string[] {
    const expanded = privileges.includes("ALL") ? ALLOWED_PRIVILEGES[objectType].filter((privilege) => privilege !== "ALL") : privileges;
    return [...new Set(expanded)].sort();
}

const role = (declared: { name: string; resourceName: string }) => identifier(declared.name, `role name of ${declared.resourceName}`);

const ROLE_FLAGS: [keyof DeclaredRole, string, string][] = [
    ["superuser", "SUPERUSER", "NOSUPERUSER"],
    ["createDatabase", "CREATEDB", "NOCREATEDB"],
    ["createRole", "CREATEROLE", "NOCREATEROLE"],
    ["inherit", "INHERIT", "NOINHERIT"],
    ["login", "LOGIN", "NOLOGIN"],
    ["bypassRowLevelSecurity", "BYPASSRLS", "NOBYPASSRLS"],
    ["replication", "REPLICATION", "NOREPLICATION"],
];

/** `ALTER ROLE ... WITH <flag>` for one of the role's boolean attributes. */
export function roleFlag(declared: DeclaredRole, attribute: keyof DeclaredRole): string {
    const flag = ROLE_FLAGS.find(([key]) => key === attribute);
    if (!flag) throw new Error(`${attribute} is not a role flag`);
    return declared[attribute] ? flag[1] : flag[2];
}
export const ROLE_FLAG_ATTRIBUTES = ROLE_FLAGS.map(([key]) => key);

export function alterRoleFlag(declared: DeclaredRole, attribute: keyof DeclaredRole): string {
    return `ALTER ROLE ${role(declared)} WITH ${roleFlag(declared, attribute)}`;
}

export function setRoleConnectionLimit(declared: DeclaredRole): string {
    return `ALTER ROLE ${role(declared)} CONNECTION LIMIT ${integer(declared.connectionLimit, `connection limit of ${declared.resourceName}`)}`;
}

/** alterSearchPath with no search_path declared. */
export function resetSearchPath(declared: DeclaredRole): string {
    return `ALTER ROLE ${role(declared)} SET search_path TO DEFAULT`;
}

export function setRolePassword(declared: DeclaredRole): string {
    return `ALTER ROLE ${role(declared)} PASSWORD ${literal(declared.password!, `password of ${declared.resourceName}`)}`;
}

/** `ALTER ROLE ... SET <setting> TO <ms>`, or RESET when 0 (setStatementTimeout, setIdleInTransactionSessionTimeout). */
export function setRoleTimeout(declared: DeclaredRole, setting: "statement_timeout" | "idle_in_transaction_session_timeout"): string {
    const value = setting === "statement_timeout" ? declared.statementTimeout : declared.idleInTransactionSessionTimeout;
    return value !== 0
        ? `ALTER ROLE ${role(declared)} SET ${setting} TO ${integer(value, `${setting} of ${declared.resourceName}`)}`
        : `ALTER ROLE ${role(declared)} RESET ${setting}`;
}

/** setAssumeRole: `ALTER ROLE ... SET ROLE TO <role>`, or RESET ROLE. */
export function setAssumeRole(declared: DeclaredRole): string {
    return declared.assumeRole
        ? `ALTER ROLE ${role(declared)} SET ROLE TO ${identifier(declared.assumeRole, `assume_role of ${declared.resourceName}`)}`
        : `ALTER ROLE ${role(declared)} RESET ROLE`;
}

export function grantMembership(member: string, of: string, what: string): string {
    return `GRANT ${identifier(of, `role granted to ${what}`)} TO ${identifier(member, `member role of ${what}`)}`;
}
export function revokeMembership(member: string, of: string, what: string): string {
    return `REVOKE ${identifier(of, `role revoked from ${what}`)} FROM ${identifier(member, `member role of ${what}`)}`;
}

/** resourcePostgreSQLRoleCreate: CREATE ROLE with every option, memberships, then the role's settings. */
export function createRole(declared: DeclaredRole): string[] {
    const options: string[] = [];
    if (declared.password) options.push(`ENCRYPTED PASSWORD ${literal(declared.password, `password of ${declared.resourceName}`)}`);
    options.push("VALID UNTIL 'infinity'");
    options.push(`CONNECTION LIMIT ${integer(declared.connectionLimit, `connection limit of ${declared.resourceName}`)}`);
    for (const [attribute] of ROLE_FLAGS) options.push(roleFlag(declared, attribute));
    const statements = [`CREATE ROLE ${role(declared)} WITH ${options.join(" ")}`];
    for (const of of declared.roles) statements.push(grantMembership(declared.name, of, declared.resourceName));
    // alterSearchPath runs on every create: with no search_path declared it sets DEFAULT.
    statements.push(resetSearchPath(declared));
    // The provider sets these only when they differ from their zero default.
    if (declared.statementTimeout !== 0) statements.push(setRoleTimeout(declared, "statement_timeout"));
    if (declared.idleInTransactionSessionTimeout !== 0) statements.push(setRoleTimeout(declared, "idle_in_transaction_session_timeout"));
    if (declared.assumeRole) statements.push(setAssumeRole(declared));
    return statements;
}

/** createDatabase: CREATE DATABASE with the provider's option order and defaults (template0, UTF8). */
export function createDatabase(declared: DeclaredDatabase, currentUser: string): string {
    const what = declared.resourceName;
    const parts = [`CREATE DATABASE ${identifier(declared.name, `database name of ${what}`)}`];
    parts.push(`OWNER ${identifier(declared.owner ?? currentUser, `owner of ${what}`)}`);
    const template = declared.template ?? "template0";
    parts.push(template.toUpperCase() === "DEFAULT" ? "TEMPLATE DEFAULT" : `TEMPLATE ${identifier(template, `template of ${what}`)}`);
    const encoding = declared.encoding ?? "UTF8";
    parts.push(encoding.toUpperCase() === "DEFAULT" ? "ENCODING DEFAULT" : `ENCODING ${literal(encoding, `encoding of ${what}`)}`);
    if (declared.lcCollate)
        parts.push(
            declared.lcCollate.toUpperCase() === "DEFAULT"
                ? "LC_COLLATE DEFAULT"
                : `LC_COLLATE ${literal(declared.lcCollate, `lc_collate of ${what}`)}`,
        );
    if (declared.lcCtype)
        parts.push(
            declared.lcCtype.toUpperCase() === "DEFAULT"
                ? "LC_CTYPE DEFAULT"
                : `LC_CTYPE ${literal(declared.lcCtype, `lc_ctype of ${what}`)}`,
        );
    parts.push(`ALLOW_CONNECTIONS ${declared.allowConnections}`);
    parts.push(`CONNECTION LIMIT ${integer(declared.connectionLimit, `connection limit of ${what}`)}`);
    parts.push(`IS_TEMPLATE ${declared.isTemplate}`);
    return parts.join(" ");
}

export function alterDatabase(declared: DeclaredDatabase, change: "owner" | "connectionLimit" | "allowConnections" | "isTemplate"): string {
    const database = identifier(declared.name, `database name of ${declared.resourceName}`);
    switch (change) {
        case "owner":
            return `ALTER DATABASE ${database} OWNER TO ${identifier(declared.owner!, `owner of ${declared.resourceName}`)}`;
        case "connectionLimit":
            return `ALTER DATABASE ${database} CONNECTION LIMIT = ${integer(declared.connectionLimit, `connection limit of ${declared.resourceName}`)}`;
        case "allowConnections":
            return `ALTER DATABASE ${database} ALLOW_CONNECTIONS ${declared.allowConnections}`;
        case "isTemplate":
            return `ALTER DATABASE ${database} IS_TEMPLATE ${declared.isTemplate}`;
    }
}

/** resourcePostgreSQLExtensionCreate. */
export function createExtension(declared: DeclaredExtension): string {
    const schema = declared.schema ? ` SCHEMA ${identifier(declared.schema, `schema of ${declared.resourceName}`)}` : "";
    return `CREATE EXTENSION IF NOT EXISTS ${identifier(declared.name, `extension name of ${declared.resourceName}`)}${schema}`;
}
export function alterExtensionSchema(declared: DeclaredExtension): string {
    return `ALTER EXTENSION ${identifier(declared.name, `extension name of ${declared.resourceName}`)} SET SCHEMA ${identifier(declared.schema!, `schema of ${declared.resourceName}`)}`;
}

/** createSchema (if_not_exists defaults to true). */
export function createSchema(declared: DeclaredSchema): string {
    const owner = declared.owner ? ` AUTHORIZATION ${identifier(declared.owner, `owner of ${declared.resourceName}`)}` : "";
    return `CREATE SCHEMA IF NOT EXISTS ${identifier(declared.name, `schema name of ${declared.resourceName}`)}${owner}`;
}
export function alterSchemaOwner(declared: DeclaredSchema): string {
    return `ALTER SCHEMA ${identifier(declared.name, `schema name of ${declared.resourceName}`)} OWNER TO ${identifier(declared.owner!, `owner of ${declared.resourceName}`)}`;
}

/**
 * resourcePostgreSQLGrantCreateOrUpdate: REVOKE ALL, then GRANT the declared privileges (none:
 * the grant is a revoke). Run in one transaction. Role `public` quoted is PUBLIC to PostgreSQL.
 */
export function grant(declared: DeclaredGrant): string[] {
    const what = declared.resourceName;
    const on =
        declared.objectType === "database"
            ? `DATABASE ${identifier(declared.database, `database of ${what}`)}`
            : `SCHEMA ${identifier(declared.schema!, `schema of ${what}`)}`;
    const grantee = identifier(declared.role, `role of ${what}`);
    const statements = [`REVOKE ALL PRIVILEGES ON ${on} FROM ${grantee}`];
    if (declared.privileges.length > 0)
        statements.push(`GRANT ${privilegeList(declared.objectType, declared.privileges, what)} ON ${on} TO ${grantee}`);
    return statements;
}

/** resourcePostgreSQLDefaultPrivilegesCreate: REVOKE ALL, then GRANT, for the owner, in the schema. */
export function defaultPrivileges(declared: DeclaredDefaultPrivileges): string[] {
    const what = declared.resourceName;
    const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${identifier(declared.owner, `owner of ${what}`)} IN SCHEMA ${identifier(declared.schema, `schema of ${what}`)}`;
    const objects = `${declared.objectType.toUpperCase()}S`;
    const grantee = identifier(declared.role, `role of ${what}`);
    const statements = [`${prefix} REVOKE ALL ON ${objects} FROM ${grantee}`];
    if (declared.privileges.length > 0)
        statements.push(`${prefix} GRANT ${privilegeList(declared.objectType, declared.privileges, what)} ON ${objects} TO ${grantee}`);
    return statements;
}

/** resourcePostgreSQLGrantRoleCreate: REVOKE, then GRANT, in one transaction. */
export function grantRole(declared: DeclaredGrantRole): string[] {
    const grantStatement = grantMembership(declared.role, declared.grantRole, declared.resourceName);
    return [
        revokeMembership(declared.role, declared.grantRole, declared.resourceName),
        declared.withAdminOption ? `${grantStatement} WITH ADMIN OPTION` : grantStatement,
    ];
}

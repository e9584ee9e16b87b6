/**
 * Every name tenantdb derives from a tenant id or a stack: the PostgreSQL database and roles,
 * the databases a restore builds and keeps, the Pulumi logical names of the tenant's
 * component, and the DNS labels AWS names are made of. The Pulumi program declares them, the
 * migration runner, the backup tool and the cost preview find things by them. One place, with
 * the inverse parsers next to the builders, so they can never drift apart.
 */
import { MAX_IDENTIFIER_BYTES, identifierBytes } from "./shared/sql";

/** Business schemas of every tenant database, owned by the tenant's owner role. */
export const BUSINESS_SCHEMAS = ["core", "masters", "finance", "inventory", "sales", "audit"] as const;
export type BusinessSchema = (typeof BUSINESS_SCHEMAS)[number];

/** Schema holding tenantdb's own bookkeeping (the migrations table); not a business schema. */
export const MIGRATIONS_SCHEMA = "tenantdb";

/** Extensions every tenant database gets. */
export const DEFAULT_EXTENSIONS = ["uuid-ossp", "pg_trgm"] as const;

/** Every tenant database is `erp_<id>`; role names are cluster-wide, so they carry the prefix too. */
const DATABASE_PREFIX = "erp_";

/** The role suffixes, in the order derivedIdentifiers lists them. */
export const ROLE_SUFFIXES = ["_owner", "_app", "_readonly", "_migrator"] as const;

/** The database and roles of one tenant. */
export interface TenantNames {
    /** `erp_<id>`: the tenant's database. */
    readonly database: string;
    /** NOLOGIN role that owns the database, its schemas and every object migrations create. */
    readonly ownerRole: string;
    /** LOGIN role of the ERP application: read and write data, no DDL. */
    readonly appRole: string;
    /** LOGIN role for reporting: read only. */
    readonly readonlyRole: string;
    /**
     * LOGIN role the migration runner connects as. It is a member of the owner role and
     * switches to it at login (and the runner runs `SET ROLE <owner>`), so every object a
     * migration creates is owned by the owner role and picked up by its default privileges.
     */
    readonly migratorRole: string;
}

export function tenantNames(tenantId: string): TenantNames {
    const database = `${DATABASE_PREFIX}${tenantId}`;
    return {
        database,
        ownerRole: `${database}_owner`,
        appRole: `${database}_app`,
        readonlyRole: `${database}_readonly`,
        migratorRole: `${database}_migrator`,
    };
}

/**
 * The session-level advisory lock (taken with hashtext, in the maintenance database) that a
 * restore or drill of `database` holds while it runs; `backup doctor` takes it before cleaning up.
 */
export function restoreLockKey(database: string): string {
    return `tenantdb restore ${database}`;
}

/** `erp_<id>` -> `<id>`; undefined for a name that is not a tenant database's. Role names are not parsed. */
export function tenantIdFromDatabase(name: unknown): string | undefined {
    if (typeof name !== "string" || !name.startsWith(DATABASE_PREFIX) || name.length === DATABASE_PREFIX.length) return undefined;
    return name.slice(DATABASE_PREFIX.length);
}

/**
 * The databases every server has beside the tenants': `postgres`, where the admin runs
 * server-wide statements and takes operation locks (a restore's, the provider's), and `template1`,
 * CREATE DATABASE's default template. Only the admin may connect to them
 * (components/maintenance-databases.ts); `template0` takes no connections at all.
 */
export const MAINTENANCE_DATABASES = ["postgres", "template1"] as const;
export type MaintenanceDatabase = (typeof MAINTENANCE_DATABASES)[number];

/** `YYYYMMDDHHMMSS` (UTC): the suffix of the databases a restore or drill creates. */
export const RESTORE_STAMP_LENGTH = 14;
const RESTORE_STAMP = new RegExp(`^\\d{${RESTORE_STAMP_LENGTH}}$`);

/** Databases a restore creates next to `erp_<id>`. */
export interface RestoreDatabaseNames {
    /** `erp_<id>`: the live database. */
    readonly live: string;
    /** `erp_<id>_restore_<ts>`: where a restore is built and verified before the switch. */
    readonly restore: string;
    /** `erp_<id>_drill_<ts>`: scratch database of a drill, always dropped. */
    readonly drill: string;
    /** `erp_<id>_before_restore_<ts>`: the previous live database, kept until dropped explicitly. */
    readonly beforeRestore: string;
}

const RESTORE_INFIXES = { restore: "_restore_", drill: "_drill_", beforeRestore: "_before_restore_" } as const;

export function restoreDatabaseNames(tenantId: string, stamp: string): RestoreDatabaseNames {
    const live = tenantNames(tenantId).database;
    return {
        live,
        restore: `${live}${RESTORE_INFIXES.restore}${stamp}`,
        drill: `${live}${RESTORE_INFIXES.drill}${stamp}`,
        beforeRestore: `${live}${RESTORE_INFIXES.beforeRestore}${stamp}`,
    };
}

/** True when `database` is a before-restore copy of this tenant (`erp_<id>_before_restore_<14 digits>`). */
export function isBeforeRestoreDatabase(tenantId: string, database: string): boolean {
    const prefix = `${tenantNames(tenantId).database}${RESTORE_INFIXES.beforeRestore}`;
    return database.startsWith(prefix) && RESTORE_STAMP.test(database.slice(prefix.length));
}

/** Every PostgreSQL identifier derived from a tenant id that lives as long as the tenant, for collision checks. */
export function derivedIdentifiers(tenantId: string): string[] {
    const names = tenantNames(tenantId);
    return [names.database, names.ownerRole, names.appRole, names.readonlyRole, names.migratorRole];
}

/** Every PostgreSQL identifier ever derived from a tenant id, the restore databases included. */
function everyIdentifier(tenantId: string): string[] {
    const stamp = "0".repeat(RESTORE_STAMP_LENGTH);
    return [...derivedIdentifiers(tenantId), ...Object.values(restoreDatabaseNames(tenantId, stamp))];
}

/**
 * The longest tenant id whose every derived name fits PostgreSQL's 63 bytes, worked out from
 * the names themselves (today the before-restore copy, `erp_<id>_before_restore_<ts>`, is the
 * longest), so adding a longer name lowers the cap instead of silently truncating it.
 * Tenant ids are ASCII, so characters and bytes agree.
 */
export const MAX_TENANT_ID_LENGTH = MAX_IDENTIFIER_BYTES - Math.max(...everyIdentifier("").map(identifierBytes));

/** The longest name derived from `tenantId`, for error messages and the length test. */
export function longestDerivedIdentifier(tenantId: string): string {
    return everyIdentifier(tenantId).reduce((longest, name) => (identifierBytes(name) > identifierBytes(longest) ? name : longest));
}

// ---- Pulumi logical names ----------------------------------------------------------------

const TENANT_COMPONENT_PREFIX = "tenant-";

/**
 * Logical name of a tenant's TenantDatabase component, `tenant-<id>`; its children are named
 * `tenant-<id>-<part>`. Part of every URN of the tenant's resources: changing it means `up`
 * tries to create databases that exist (test/program/urns.test.ts pins them).
 */
export function tenantComponentName(tenantId: string): string {
    return `${TENANT_COMPONENT_PREFIX}${tenantId}`;
}

/** Inverse of tenantComponentName, for the component and its children (`tenant-<id>-<part>`): ids never contain a dash. */
export function tenantIdFromLogicalName(name: string): string | undefined {
    if (!name.startsWith(TENANT_COMPONENT_PREFIX)) return undefined;
    const id = name.slice(TENANT_COMPONENT_PREFIX.length).split("-", 1)[0];
    return id === "" ? undefined : id;
}

/** Logical name of a server's component (RDS) or provider prefix (external), `server-<name>`. */
export function serverComponentName(serverName: string): string {
    return `server-${serverName}`;
}

// ---- DNS labels (AWS names) ---------------------------------------------------------------

/** A stack or tenant name as S3 and RDS accept it in names: lowercase letters, digits and single dashes. */
export function dnsLabel(name: string): string {
    return (
        name
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, "-")
            .replace(/^-+|-+$/g, "") || "stack"
    );
}

/**
 * Prefix of a tenant's backup bucket: `tdb-<stack>-<tenant>-`, at most 37 characters so AWS's
 * random suffix keeps the name within S3's 63 and globally unique.
 */
export function backupBucketPrefix(stack: string, tenantId: string): string {
    return `tdb-${dnsLabel(stack)}-${tenantId.replace(/_/g, "-")}`.slice(0, 36).replace(/-+$/, "") + "-";
}

/** KMS alias of a tenant's backup key. */
export function backupKeyAlias(stack: string, tenantId: string): string {
    return `alias/tenantdb/${stack}/${tenantId}`;
}

/** RDS final snapshot and CloudWatch dashboard names of a server: `tenantdb-<stack>-<component>`. */
export function serverResourceName(stack: string, componentName: string, suffix?: string): string {
    return `tenantdb-${dnsLabel(stack)}-${componentName}${suffix ? `-${suffix}` : ""}`;
}

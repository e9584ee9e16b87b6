/**
 * The names every part of tenantdb derives from a tenant id: the Pulumi program declares
 * them, the migration runner and the backup tool connect with them. One place, so they
 * can never drift apart.
 */

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

/** Business schemas of every tenant database, owned by the tenant's owner role. */
export const BUSINESS_SCHEMAS = ["core", "masters", "finance", "inventory", "sales", "audit"] as const;
export type BusinessSchema = (typeof BUSINESS_SCHEMAS)[number];

/** Schema holding tenantdb's own bookkeeping (the migrations table); not a business schema. */
export const MIGRATIONS_SCHEMA = "tenantdb";

/** Extensions every tenant database gets. */
export const DEFAULT_EXTENSIONS = ["uuid-ossp", "pg_trgm"] as const;

/** The database and roles of one tenant. Role names are cluster-wide, hence the `erp_<id>_` prefix. */
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
    const database = `erp_${tenantId}`;
    return {
        database,
        ownerRole: `${database}_owner`,
        appRole: `${database}_app`,
        readonlyRole: `${database}_readonly`,
        migratorRole: `${database}_migrator`,
    };
}

/** Every PostgreSQL identifier derived from a tenant id, for length and collision checks. */
export function derivedIdentifiers(tenantId: string): string[] {
    const names = tenantNames(tenantId);
    return [names.database, names.ownerRole, names.appRole, names.readonlyRole, names.migratorRole];
}

/** Byte length as PostgreSQL counts it (UTF-8). */
export function identifierBytes(identifier: string): number {
    return Buffer.byteLength(identifier, "utf8");
}

/**
 * The longest name derived from a tenant id is the copy a restore keeps of the previous live
 * database, `erp_<id>_before_restore_<YYYYMMDDHHMMSS>` (src/backup/identifiers.ts). Capping the
 * id so that name fits means every derived name fits PostgreSQL's 63 bytes.
 */
export const BEFORE_RESTORE_INFIX = "_before_restore_";
export const RESTORE_STAMP_LENGTH = 14;
export const MAX_TENANT_ID_LENGTH = MAX_IDENTIFIER_BYTES - "erp_".length - BEFORE_RESTORE_INFIX.length - RESTORE_STAMP_LENGTH;

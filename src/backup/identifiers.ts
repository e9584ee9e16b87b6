/**
 * Tenant ids, the database names backup and restore derive from them, the timestamps in
 * object keys and database names, and SQL quoting. Every identifier that reaches SQL is
 * validated here and quoted with `pg`'s escapeIdentifier.
 */
import { escapeIdentifier, escapeLiteral } from "pg";
import { MAX_IDENTIFIER_BYTES, identifierBytes, tenantNames } from "../naming";

/** `YYYYMMDDHHMMSS`, UTC: the suffix of restore, drill and before-restore databases. */
const COMPACT_STAMP = /^\d{14}$/;
/** `YYYYMMDDTHHMMSS.mmmZ`, UTC: the name of a backup object. Sorts by time. */
const BACKUP_STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** Databases restore creates next to `erp_<id>`; their longest form bounds the tenant id. */
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

/** Throws unless `tenantId` is a valid tenant id; the cap on its length keeps every restore name within 63 bytes. */
export { assertTenantId } from "../config/tenant-id";

export function restoreDatabaseNames(tenantId: string, stamp: string): RestoreDatabaseNames {
    const live = tenantNames(tenantId).database;
    return {
        live,
        restore: `${live}_restore_${stamp}`,
        drill: `${live}_drill_${stamp}`,
        beforeRestore: `${live}_before_restore_${stamp}`,
    };
}

/** True when `database` is a before-restore copy of this tenant (`erp_<id>_before_restore_<14 digits>`). */
export function isBeforeRestoreDatabase(tenantId: string, database: string): boolean {
    const prefix = `${tenantNames(tenantId).database}_before_restore_`;
    return database.startsWith(prefix) && COMPACT_STAMP.test(database.slice(prefix.length));
}

/** `YYYYMMDDHHMMSS` in UTC. */
export function compactStamp(date: Date): string {
    return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** `YYYYMMDDTHHMMSS.mmmZ` in UTC (ISO 8601 basic format). */
export function backupStamp(date: Date): string {
    return date.toISOString().replace(/[-:]/g, "");
}

/** Inverse of backupStamp; undefined when `stamp` is not one. */
export function parseBackupStamp(stamp: string): Date | undefined {
    const match = BACKUP_STAMP.exec(stamp);
    if (!match) return undefined;
    const [, y, mo, d, h, mi, s, ms] = match;
    const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A quoted SQL identifier; throws on empty, NUL-containing or over-long names. */
export function ident(name: string): string {
    if (name.length === 0 || name.includes("\0") || identifierBytes(name) > MAX_IDENTIFIER_BYTES) {
        throw new Error(`Invalid SQL identifier ${JSON.stringify(name)}.`);
    }
    return escapeIdentifier(name);
}

/** A quoted SQL string literal. */
export function literal(value: string): string {
    if (value.includes("\0")) throw new Error("SQL literals cannot contain NUL characters.");
    return escapeLiteral(value);
}

/**
 * The timestamps in backup object keys and restore database names (the names themselves are
 * src/naming.ts).
 */

/** `YYYYMMDDTHHMMSS.mmmZ`, UTC: the name of a backup object. Sorts by time. */
const BACKUP_STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

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

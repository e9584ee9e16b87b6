/**
 * One error type for every backup, restore, drill and list failure. Its message names the
 * tenant, the server, the step and the fix, so an operator reading a CI log knows what
 * broke and what to do without reading code (STYLE.md, "Errors that help").
 */

/** What kind of fault it is; the drill and the tests classify failures by it. */
export type BackupFaultKind =
    | "config" // bad inventory, tenant id or option: a caller mistake
    | "tools" // pg_dump/pg_restore missing or too old
    | "database" // the PostgreSQL server refused or failed a step
    | "missing" // no backup, or a backup object is gone
    | "corrupt" // checksum, size, archive header or manifest does not match
    | "mismatch" // the backup belongs to another tenant
    | "unreachable" // the bucket/directory cannot be read or written
    | "restore-failed" // pg_restore failed (disk full, bad archive, ...)
    | "verify-failed" // the restored database differs from what the backup recorded
    | "busy" // another restore of the same tenant is running
    | "swap-failed"; // the rename switch could not be completed (live kept)

export class TenantBackupError extends Error {
    override readonly name = "TenantBackupError";
    constructor(
        readonly kind: BackupFaultKind,
        readonly tenantId: string,
        readonly server: string | undefined,
        readonly step: string,
        readonly problem: string,
        readonly fix?: string,
        options?: { cause?: unknown },
    ) {
        super(`tenant ${tenantId}${server ? ` (server ${server})` : ""}, step "${step}": ${problem}${fix ? ` Fix: ${fix}` : ""}`, options);
    }
}

/** How a step fails: the tenant and the server are filled in, so each step names only its own part. */
export type Fail = (kind: BackupFaultKind, step: string, problem: string, fix?: string, cause?: unknown) => TenantBackupError;

export function failFor(tenantId: string, server: string | undefined): Fail {
    return (kind, step, problem, fix, cause) => new TenantBackupError(kind, tenantId, server, step, problem, fix, { cause });
}

/** The same failure with a sentence added to its problem, e.g. what its cleanup could not undo. */
export function withProblemAdded(error: TenantBackupError, addition: string): TenantBackupError {
    const { kind, tenantId, server, step, problem, fix, cause } = error;
    return new TenantBackupError(kind, tenantId, server, step, problem + addition, fix, { cause });
}

/** The message of anything thrown, without a stack. */
export function describe(error: unknown): string {
    if (error instanceof Error) return error.message || error.name;
    return String(error);
}

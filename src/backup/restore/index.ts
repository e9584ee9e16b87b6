/**
 * Restore without ever being without a database: the backup is restored into a new
 * database, verified against its manifest (sha256 and size of the dump, schema version, row
 * count of every table, owners, privileges and database settings), and only then do the
 * names switch: `erp_<id>` becomes `erp_<id>_before_restore_<ts>` and the restored database
 * becomes `erp_<id>`, in one transaction. The previous database is kept until dropped with
 * dropPreviousDatabase. Any failure before the switch drops the half-restored database and
 * leaves the live one exactly as it was.
 */
import { TenantBackupTarget } from "../inventory";
import { RestoreOptions, RestoreResult } from "./options";
import { runRestore } from "./run";

export { compareWithManifest } from "./compare";
export { movedAsideSentence } from "./moved-aside";
export { type RestoreOptions, type RestoreResult, defaultRestoreJobs } from "./options";
export { type BeforeRestoreRecord, type PreviousDatabase, dropPreviousDatabase, dropWarning, listPreviousDatabases } from "./previous";
export { loadManifest } from "./select-backup";

/** Restores a tenant's backup and switches it in as `erp_<id>`. */
export function restoreTenant(target: TenantBackupTarget, options: RestoreOptions = {}): Promise<RestoreResult> {
    return runRestore(target, options, "restore");
}

/** Restores a tenant's backup into a scratch database, verifies it and drops it (the drill). */
export function restoreScratch(target: TenantBackupTarget, options: RestoreOptions = {}): Promise<RestoreResult> {
    return runRestore(target, options, "drill");
}

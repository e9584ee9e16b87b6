/** What a caller may ask of a restore, and what it gets back. */
import * as os from "node:os";
import { BackupToolOptions } from "../backup";
import { BackupManifest } from "../manifest";

export interface RestoreOptions extends BackupToolOptions {
    /** A backup key, or its timestamp (`20250101T020000.000Z`). Defaults to the newest complete backup. */
    readonly backup?: string;
    /** Report owner/privilege differences from the backup as warnings instead of failing. Defaults to false. */
    readonly allowPrivilegeDrift?: boolean;
    /** Build the restored database in this tablespace (e.g. a larger volume). */
    readonly tablespace?: string;
    /** How long sessions on the live database get to end before the switch gives up. Defaults to 15 s. */
    readonly terminateTimeoutMs?: number;
    /**
     * Parallel pg_restore jobs. Above 1 the dump is first downloaded to a private temporary file
     * (checksum verified before any database is created), then restored with `pg_restore -j`.
     * 1 streams the download straight into pg_restore, with no local copy. Defaults to
     * min(4, CPUs).
     */
    readonly jobs?: number;
    /** Folder for the temporary copy when jobs > 1. Defaults to the OS temp folder. */
    readonly tempDir?: string;
}

export function defaultRestoreJobs(): number {
    return Math.max(1, Math.min(4, os.cpus().length));
}

export interface RestoreResult {
    readonly tenantId: string;
    readonly key: string;
    readonly manifest: BackupManifest;
    /** Where the restored data is now: `erp_<id>` after a restore; the (dropped) scratch name after a drill. */
    readonly database: string;
    /** The previous live database, kept: `erp_<id>_before_restore_<ts>` (undefined for drills, or when there was none). */
    readonly previousDatabase?: string;
    /** Download, pg_restore, ownership and verification, in seconds. */
    readonly restoreSeconds: number;
    /** Differences tolerated by allowPrivilegeDrift. */
    readonly warnings: readonly string[];
    /**
     * Restores only: rows per table the previous database held that the restored one does not
     * (writes after the backup), now only in `previousDatabase`. Empty when nothing moved aside.
     */
    readonly movedAside?: Readonly<Record<string, number>>;
}

/**
 * The verified final backup a suspension is taken after: a fresh backup of the tenant to its
 * own bucket, then a restore drill of that backup into a scratch database, compared with its
 * manifest. Only when both succeed may the tenant be suspended (and, later, erased).
 */
import { BackupInventory, BackupToolOptions, backupTenant, drill, selectTenants } from "../backup";
import { AbortedError, ControlError } from "./errors";

export interface FinalBackup {
    /** Takes and verifies a backup; returns where it is. Throws when it cannot be verified. */
    takeVerified(tenantId: string, signal?: AbortSignal): Promise<string>;
}

/** The final backup could not be taken or did not verify; the tenant was not suspended. */
export class FinalBackupError extends ControlError {
    readonly code = "final_backup_failed";
    constructor(tenantId: string, problem: string, options?: { cause?: unknown }) {
        super(`tenant ${tenantId}: the final backup could not be verified, so the tenant was not suspended: ${problem}`, options);
        this.name = "FinalBackupError";
    }
}

/** Final backups as the backup inventory describes each tenant's server and bucket. */
export function finalBackupFromInventory(inventory: BackupInventory, toolOptions: BackupToolOptions = {}): FinalBackup {
    const options = { signingKey: inventory.signingKey, ...toolOptions };
    return {
        async takeVerified(tenantId, signal) {
            const [target] = selectTenants(inventory, [tenantId]);
            let location: string;
            try {
                location = (await backupTenant(target, options)).uri;
            } catch (error) {
                throw new FinalBackupError(tenantId, (error as Error).message, { cause: error });
            }
            if (signal?.aborted) throw new AbortedError(`the final backup of ${tenantId}`);
            const report = await drill([target], options);
            const result = report.results[0];
            if (result?.status !== "ok")
                throw new FinalBackupError(tenantId, result?.problem ?? `the restore drill reported ${result?.status}`);
            return location;
        },
    };
}

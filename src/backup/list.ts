/** Backups per tenant with their age; a tenant whose newest complete backup is older than 26 hours is stale. */
import { TenantBackupError, describe } from "./errors";
import { TenantBackupTarget } from "./inventory";
import { backupKeyTime, manifestKey, tenantBackupPrefix } from "./manifest";
import { BackupStore, StoreError } from "./store";
import { BackupToolOptions, storeOf } from "./backup";

/** A daily backup plus two hours of slack for a slow or retried job. */
export const STALE_AFTER_HOURS = 26;

export interface BackupEntry {
    readonly key: string;
    readonly startedAt: Date;
    readonly sizeBytes: number;
    /** False when the manifest is missing: the backup job failed or is still running. Never restored. */
    readonly complete: boolean;
}

/** Every backup of a tenant, oldest first. */
export async function findBackups(store: BackupStore, tenantId: string): Promise<BackupEntry[]> {
    const objects = await store.list(tenantBackupPrefix(store.prefix, tenantId));
    const keys = new Set(objects.map((object) => object.key));
    const entries: BackupEntry[] = [];
    for (const object of objects) {
        const startedAt = backupKeyTime(object.key);
        if (!startedAt) continue;
        entries.push({ key: object.key, startedAt, sizeBytes: object.size, complete: keys.has(manifestKey(object.key)) });
    }
    return entries.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
}

export interface TenantBackupListing {
    readonly tenantId: string;
    readonly location: string;
    readonly backups: readonly (BackupEntry & { readonly ageHours: number })[];
    /** Newest complete backup. */
    readonly newest?: BackupEntry & { readonly ageHours: number };
    /** No complete backup, or the newest is older than STALE_AFTER_HOURS. */
    readonly stale: boolean;
    /** Set when the store could not be listed. */
    readonly error?: TenantBackupError;
}

export const ageHours = (from: Date, now: Date) => (now.getTime() - from.getTime()) / 3_600_000;

export async function listBackups(targets: readonly TenantBackupTarget[], options: BackupToolOptions = {}): Promise<TenantBackupListing[]> {
    const now = (options.now ?? (() => new Date()))();
    return Promise.all(
        targets.map(async (target): Promise<TenantBackupListing> => {
            const store = storeOf(target, options);
            try {
                const backups = (await findBackups(store, target.tenantId)).map((entry) => ({
                    ...entry,
                    ageHours: ageHours(entry.startedAt, now),
                }));
                const newest = backups.filter((entry) => entry.complete).at(-1);
                return {
                    tenantId: target.tenantId,
                    location: store.location,
                    backups,
                    newest,
                    stale: !newest || newest.ageHours > STALE_AFTER_HOURS,
                };
            } catch (error) {
                const kind = error instanceof StoreError ? "unreachable" : "database";
                const wrapped = new TenantBackupError(
                    kind,
                    target.tenantId,
                    target.server.name,
                    "list backups",
                    describe(error),
                    `check that ${store.location} exists and is readable.`,
                    { cause: error },
                );
                return { tenantId: target.tenantId, location: store.location, backups: [], stale: true, error: wrapped };
            }
        }),
    );
}

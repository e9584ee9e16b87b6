/**
 * Backups per tenant with their age; a tenant whose newest complete backup is older than 26 hours
 * (or the caller's limit) is stale. With `check`, each backup shown is also held to its manifest
 * without downloading the dump: the manifest parses, is this tenant's and is signed (when a key
 * is configured), and the dump object exists with the size the manifest records. A truncated or
 * replaced dump is then bad, not ok (issue 13).
 */
import { TenantBackupError, describe, failFor } from "./errors";
import { TenantBackupTarget } from "./inventory";
import { backupKeyTime, manifestKey, tenantBackupPrefix } from "./manifest";
import { BackupStore, StoreError } from "./store";
import { BackupToolOptions, storeOf } from "./backup";
import { inspectBackup } from "./restore/select-backup";

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

/** What the cheap check found about one backup. */
export interface BackupCheck {
    readonly status: "ok" | "bad" | "missing" | "unreachable";
    /** Why it is not ok: the step and the fix, as a restore would say it. */
    readonly reason?: string;
    /** False when no signing key was configured: the manifest's signature was not checked. */
    readonly signatureChecked: boolean;
    readonly schemaVersion?: string;
}

export type ListedBackup = BackupEntry & { readonly ageHours: number; readonly check?: BackupCheck };

/** A tenant's state in `backup list`: its newest complete backup ok, too old, bad, absent, or the store unreadable. */
export type TenantBackupStatus = "ok" | "stale" | "bad" | "missing" | "unreachable";

export interface TenantBackupListing {
    readonly tenantId: string;
    readonly location: string;
    readonly backups: readonly ListedBackup[];
    /** Newest complete backup. */
    readonly newest?: ListedBackup;
    /** No complete backup, or the newest is older than the stale limit. */
    readonly stale: boolean;
    readonly status: TenantBackupStatus;
    /** Why the status is not ok. */
    readonly reason?: string;
    /** Set when the store could not be listed. */
    readonly error?: TenantBackupError;
}

export interface ListOptions extends BackupToolOptions {
    /** A newest backup older than this many hours is stale. Defaults to STALE_AFTER_HOURS. */
    readonly staleAfterHours?: number;
    /** Hold backups to their manifests (no download): the newest complete one, or every complete one. Defaults to none. */
    readonly check?: "newest" | "all";
}

export const ageHours = (from: Date, now: Date) => (now.getTime() - from.getTime()) / 3_600_000;

/** The cheap check of one complete backup, as a status and the reason. */
async function checkBackup(store: BackupStore, target: TenantBackupTarget, key: string, options: BackupToolOptions): Promise<BackupCheck> {
    const signatureChecked = options.signingKey !== undefined;
    try {
        const manifest = await inspectBackup(store, key, target.tenantId, failFor(target.tenantId, target.server.name), options.signingKey);
        return { status: "ok", signatureChecked, schemaVersion: manifest.schemaVersion };
    } catch (error) {
        const kind = error instanceof TenantBackupError ? error.kind : "corrupt";
        const status = kind === "missing" ? "missing" : kind === "unreachable" ? "unreachable" : "bad";
        // The row already names the tenant and the backup: the reason is the step, the problem and the fix.
        const reason =
            error instanceof TenantBackupError
                ? `${error.step}: ${error.problem}${error.fix ? ` Fix: ${error.fix}` : ""}`
                : describe(error);
        return { status, reason, signatureChecked };
    }
}

export async function listBackups(targets: readonly TenantBackupTarget[], options: ListOptions = {}): Promise<TenantBackupListing[]> {
    const now = (options.now ?? (() => new Date()))();
    const staleAfter = options.staleAfterHours ?? STALE_AFTER_HOURS;
    return Promise.all(
        targets.map(async (target): Promise<TenantBackupListing> => {
            const store = storeOf(target, options);
            try {
                const found = await findBackups(store, target.tenantId);
                const newestKey = found.filter((entry) => entry.complete).at(-1)?.key;
                const backups: ListedBackup[] = await Promise.all(
                    found.map(async (entry) => {
                        const checked =
                            entry.complete && (options.check === "all" || (options.check === "newest" && entry.key === newestKey));
                        return {
                            ...entry,
                            ageHours: ageHours(entry.startedAt, now),
                            ...(checked ? { check: await checkBackup(store, target, entry.key, options) } : {}),
                        };
                    }),
                );
                const newest = backups.find((entry) => entry.key === newestKey);
                const stale = !newest || newest.ageHours > staleAfter;
                const incomplete = backups.length > 0 ? ` (${backups.length} incomplete backup(s) without a manifest)` : "";
                const [status, reason]: [TenantBackupStatus, string | undefined] = !newest
                    ? ["missing", `no complete backup in ${store.location}backups/${target.tenantId}/${incomplete}`]
                    : newest.check && newest.check.status !== "ok"
                      ? [newest.check.status, newest.check.reason]
                      : stale
                        ? ["stale", `the newest backup is ${newest.ageHours.toFixed(1)} h old (more than ${staleAfter} h)`]
                        : ["ok", undefined];
                return { tenantId: target.tenantId, location: store.location, backups, newest, stale, status, reason };
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
                return {
                    tenantId: target.tenantId,
                    location: store.location,
                    backups: [],
                    stale: true,
                    status: "unreachable",
                    reason: `${wrapped.step}: ${wrapped.problem} Fix: ${wrapped.fix}`,
                    error: wrapped,
                };
            }
        }),
    );
}

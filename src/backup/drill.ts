/**
 * The restore drill: restore the newest backup of each tenant (or a sample) into a scratch
 * database, verify it, drop it, and report the restore time and every tenant whose backup
 * is missing, stale or corrupt. Any failure makes the drill fail (non-zero exit in the CLI).
 */
import pLimit from "p-limit";
import { BackupToolOptions } from "./backup";
import { TenantBackupError, describe } from "./errors";
import { TenantBackupTarget } from "./inventory";
import { STALE_AFTER_HOURS, ageHours, listBackups } from "./list";
import { RestoreOptions, restoreScratch } from "./restore";

export type DrillStatus = "ok" | "missing" | "stale" | "corrupt" | "failed";

export interface DrillTenantResult {
    readonly tenantId: string;
    readonly status: DrillStatus;
    readonly key?: string;
    readonly ageHours?: number;
    readonly restoreSeconds?: number;
    /** Why the tenant failed, naming the step and the fix. */
    readonly problem?: string;
    readonly error?: TenantBackupError;
}

export interface DrillOptions extends BackupToolOptions, Pick<RestoreOptions, "allowPrivilegeDrift" | "tablespace"> {
    /** Drill a random sample of this many tenants instead of all. */
    readonly sample?: number;
    /** Restores at once. Defaults to 1: a drill should not starve the server it shares with tenants. */
    readonly concurrency?: number;
    /** Random source for the sample, for tests. */
    readonly random?: () => number;
}

export interface DrillReport {
    readonly results: readonly DrillTenantResult[];
    readonly failed: number;
}

/** Random sample of `n` targets (Fisher-Yates on a copy). */
export function sampleTargets<T>(targets: readonly T[], n: number, random: () => number = Math.random): T[] {
    const copy = [...targets];
    for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, Math.max(0, Math.min(n, copy.length)));
}

const STATUS_BY_KIND: Partial<Record<TenantBackupError["kind"], DrillStatus>> = {
    missing: "missing",
    corrupt: "corrupt",
    mismatch: "corrupt",
    "restore-failed": "corrupt",
    "verify-failed": "corrupt",
};

export async function drill(targets: readonly TenantBackupTarget[], options: DrillOptions = {}): Promise<DrillReport> {
    const chosen = options.sample !== undefined ? sampleTargets(targets, options.sample, options.random) : [...targets];
    const now = options.now ?? (() => new Date());
    const listings = new Map((await listBackups(chosen, options)).map((listing) => [listing.tenantId, listing]));
    const limit = pLimit(options.concurrency ?? 1);
    const results = await Promise.all(
        chosen.map((target) =>
            limit(async (): Promise<DrillTenantResult> => {
                const { tenantId } = target;
                const listing = listings.get(tenantId)!;
                if (listing.error) return { tenantId, status: "failed", problem: listing.error.message, error: listing.error };
                if (!listing.newest) {
                    const incomplete =
                        listing.backups.length > 0 ? ` (${listing.backups.length} incomplete backup(s) without manifest)` : "";
                    return {
                        tenantId,
                        status: "missing",
                        problem: `no complete backup in ${listing.location}${incomplete}; run: npm run backup -- ${tenantId}`,
                    };
                }
                const key = listing.newest.key;
                const age = ageHours(listing.newest.startedAt, now());
                try {
                    const result = await restoreScratch(target, { ...options, backup: key });
                    if (age > STALE_AFTER_HOURS) {
                        return {
                            tenantId,
                            status: "stale",
                            key,
                            ageHours: age,
                            restoreSeconds: result.restoreSeconds,
                            problem: `the newest backup is ${age.toFixed(1)} h old (more than ${STALE_AFTER_HOURS} h): check the scheduled backup job`,
                        };
                    }
                    return { tenantId, status: "ok", key, ageHours: age, restoreSeconds: result.restoreSeconds };
                } catch (error) {
                    const wrapped = error instanceof TenantBackupError ? error : undefined;
                    const status = (wrapped && STATUS_BY_KIND[wrapped.kind]) ?? "failed";
                    return { tenantId, status, key, ageHours: age, problem: describe(error), error: wrapped };
                }
            }),
        ),
    );
    return { results, failed: results.filter((result) => result.status !== "ok").length };
}

/** Pricing of tenant backup buckets: daily full dumps kept for the lifecycle's days. See pricing.ts for the model. */
import { tenantSizeGb } from "./assumptions";
import { TYPES, stringInput, typeFromUrn } from "./graph";
import { PlannedResource, PricingContext } from "./types";

/** Default S3 backup retention when no lifecycle expiration is found for a bucket (days). */
export const DEFAULT_BACKUP_RETENTION_DAYS = 30;

/**
 * The bucket a lifecycle or versioning resource configures: the one its `bucket` input names,
 * else the only bucket beside it in the same component (a TenantBackupBucket holds one).
 */
function bucketMatcher(buckets: readonly PlannedResource[]): (config: PlannedResource) => PlannedResource | undefined {
    const byPhysicalName = new Map<string, PlannedResource>();
    const byParent = new Map<string, PlannedResource[]>();
    for (const bucket of buckets) {
        const physical = stringInput(bucket, "bucket");
        if (physical) byPhysicalName.set(physical, bucket);
        const parent = bucket.parent && typeFromUrn(bucket.parent) !== TYPES.rootStack ? bucket.parent : undefined;
        if (parent) byParent.set(parent, [...(byParent.get(parent) ?? []), bucket]);
    }
    return (config) => {
        const named = byPhysicalName.get(stringInput(config, "bucket") ?? "");
        if (named) return named;
        const siblings = config.parent ? byParent.get(config.parent) : undefined;
        return siblings?.length === 1 ? siblings[0] : undefined;
    };
}

export function priceBuckets(
    buckets: readonly PlannedResource[],
    lifecycles: readonly PlannedResource[],
    versionings: readonly PlannedResource[],
    { prices, assumptions, ownerOf, lineItems, unpriced, warnings }: PricingContext,
): void {
    const matchBucket = bucketMatcher(buckets);
    const expirationDays = new Map<PlannedResource, number>();
    const noncurrentDays = new Map<PlannedResource, number | "unbounded">();
    for (const lifecycle of lifecycles) {
        const bucket = matchBucket(lifecycle);
        if (!bucket) {
            warnings.push(
                `bucket lifecycle ${lifecycle.name}: no bucket in the graph matches it (by its bucket input, or as the only bucket in its component)`,
            );
            continue;
        }
        const { expiration, noncurrent } = readLifecycleRules(lifecycle.inputs.rules);
        if (expiration !== undefined) expirationDays.set(bucket, expiration);
        if (noncurrent !== undefined) noncurrentDays.set(bucket, noncurrent);
    }
    const versioned = new Set<PlannedResource>();
    for (const versioning of versionings) {
        const configuration = versioning.inputs.versioningConfiguration as { status?: unknown } | undefined;
        const bucket = matchBucket(versioning);
        if (bucket && configuration?.status === "Enabled") versioned.add(bucket);
    }

    for (const bucket of buckets) {
        const owner = ownerOf(bucket);
        if (owner.kind !== "tenant") {
            const reason = `not inside a ${TYPES.tenantDatabase} component, so its backup volume cannot be estimated from a tenant database size`;
            unpriced.push({ type: bucket.type, name: bucket.name, reason });
            continue;
        }
        const tenant = owner.tenant;
        let days = expirationDays.get(bucket);
        if (days === undefined) {
            days = DEFAULT_BACKUP_RETENTION_DAYS;
            warnings.push(
                `bucket ${bucket.name}: no lifecycle expiration found; assuming backups are kept ${DEFAULT_BACKUP_RETENTION_DAYS} days`,
            );
        }
        let note = `daily full dump: ${tenantSizeGb(assumptions, tenant)} GB x ${assumptions.dumpCompressionRatio} compression x ${days} days`;
        if (versioned.has(bucket)) {
            const extra = noncurrentDays.get(bucket);
            if (extra === "unbounded" || extra === undefined) {
                warnings.push(
                    `bucket ${bucket.name}: versioning is on but no noncurrent-version expiration is set; expired dumps are kept as noncurrent versions forever and this estimate does not include them`,
                );
            } else {
                days += extra;
                note += ` + ${extra} noncurrent days (versioning)`;
            }
        }
        const gb = tenantSizeGb(assumptions, tenant) * assumptions.dumpCompressionRatio * days;
        const monthlyUsd = gb * prices.s3.standardGbMonth.value;
        lineItems.push({
            resourceType: bucket.type,
            resourceName: bucket.name,
            owner,
            item: "backup storage (S3 Standard)",
            quantity: gb,
            unit: "GB-months",
            unitPriceUsd: prices.s3.standardGbMonth.value,
            monthlyUsd,
            worstCaseMonthlyUsd: monthlyUsd,
            note,
        });
    }
}

/** Longest enabled expiration (days) and noncurrent-version expiration among lifecycle rules. */
export function readLifecycleRules(rules: unknown): { expiration?: number; noncurrent?: number | "unbounded" } {
    if (!Array.isArray(rules)) return {};
    let expiration: number | undefined;
    let noncurrent: number | undefined;
    const first = (value: unknown): Record<string, unknown> | undefined => {
        const item = Array.isArray(value) ? value[0] : value;
        return item && typeof item === "object" ? (item as Record<string, unknown>) : undefined;
    };
    for (const rule of rules) {
        if (!rule || typeof rule !== "object") continue;
        const r = rule as Record<string, unknown>;
        if (r.status !== undefined && r.status !== "Enabled") continue;
        const days = first(r.expiration)?.days;
        if (typeof days === "number" && days > 0) expiration = Math.max(expiration ?? 0, days);
        const nc = first(r.noncurrentVersionExpiration)?.noncurrentDays;
        if (typeof nc === "number" && nc > 0) noncurrent = Math.max(noncurrent ?? 0, nc);
    }
    return { ...(expiration !== undefined ? { expiration } : {}), ...(noncurrent !== undefined ? { noncurrent } : {}) };
}

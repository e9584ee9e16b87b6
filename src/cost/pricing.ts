/**
 * Prices a planned resource graph: one line item per billable dimension of each resource,
 * owned by a server, a tenant or the fleet. Allocation to tenants is a separate step
 * (`allocate.ts`), so the same line items can be split by any rule.
 *
 * The pricing model (documented in the README's "Cost preview" section):
 * - RDS instance: hourly price x hours per month (730), x2 for Multi-AZ.
 * - RDS storage: allocated GB x price per GB-month, x2 for Multi-AZ; the worst case uses the
 *   autoscaling ceiling (`maxAllocatedStorage`). io1/io2 add provisioned IOPS; gp3 adds IOPS above
 *   its baseline (3,000 below 400 GB, 12,000 from 400 GB).
 * - RDS backup storage: the tenants on a server hold sum(size x (1 + dailyChangeRate x retention days))
 *   of automated backups; AWS gives 100% of the provisioned storage free; the rest is priced.
 * - Performance Insights: 7 days of retention is free; longer retention costs vCPUs x (first month
 *   + additional months) per month, vCPUs doubled for Multi-AZ.
 * - `manageMasterUserPassword: true`: one Secrets Manager secret, managed by RDS.
 * - S3 backups: one compressed full pg_dump a day, kept for the lifecycle expiration days (plus the
 *   noncurrent-version days when versioning is on): size x dumpCompressionRatio x days GB. The daily
 *   change rate does not apply: every dump is a full copy.
 * - KMS key: key-month + kmsRequestsPerKeyMonth requests. Secrets: secret-month. Alarms: alarm-month
 *   (high resolution when `period` < 60). Dashboards: dashboard-month after the free ones, in name order.
 * - Data transfer out: transferGbPerTenant x price per GB, per tenant.
 */
import { CostAssumptions, tenantSizeGb } from "./assumptions";
import {
    PlannedResource,
    TYPES,
    booleanInput,
    isFreeType,
    numberInput,
    readTags,
    stringInput,
    tenantIdFromDatabaseName,
} from "./graph";
import { PriceBook } from "./prices";

/** Who pays for a line item before allocation. */
export type Owner =
    | { readonly kind: "server"; readonly server: string }
    | { readonly kind: "tenant"; readonly tenant: string }
    | { readonly kind: "fleet" };

/** One billable dimension of one resource. */
export interface LineItem {
    readonly resourceType: string;
    readonly resourceName: string;
    /** What is billed, e.g. "instance hours", "storage (gp3)". */
    readonly item: string;
    readonly quantity: number;
    readonly unit: string;
    readonly unitPriceUsd: number;
    /** Expected monthly cost. */
    readonly monthlyUsd: number;
    /** Monthly cost with storage at its autoscaling ceiling; equal to `monthlyUsd` for other items. */
    readonly worstCaseMonthlyUsd: number;
    readonly owner: Owner;
    readonly note?: string;
}

/** A resource the prices file cannot price; never counted as zero. */
export interface UnpricedResource {
    readonly type: string;
    readonly name: string;
    readonly reason: string;
}

/** A server (RDS instance) found in the graph. */
export interface ServerInfo {
    readonly server: string;
    readonly resourceName: string;
    readonly instanceClass?: string;
    readonly multiAz: boolean;
    /** Tenant id when the server is an enterprise tenant's dedicated server. */
    readonly dedicatedTo?: string;
}

/** A tenant found in the graph. */
export interface TenantInfo {
    readonly tenant: string;
    plan?: string;
    server?: string;
    /** `connectionLimit` of the tenant's database, when declared. */
    connectionLimit?: number;
}

/** Line items plus what allocation needs to know. */
export interface PricedGraph {
    readonly lineItems: LineItem[];
    readonly unpriced: UnpricedResource[];
    readonly freeResources: number;
    readonly servers: Map<string, ServerInfo>;
    readonly tenants: Map<string, TenantInfo>;
    readonly warnings: string[];
}

/** Default S3 backup retention when no lifecycle expiration is found for a bucket (days). */
export const DEFAULT_BACKUP_RETENTION_DAYS = 30;
/** RDS API default for `backupRetentionPeriod` when the input is absent (days). */
export const DEFAULT_RDS_BACKUP_RETENTION_DAYS = 1;

const SERVER_LEVEL_TYPES: ReadonlySet<string> = new Set([TYPES.rdsInstance, TYPES.rdsParameterGroup, TYPES.metricAlarm, TYPES.dashboard]);

/**
 * Who pays for a resource: by its tags; an untagged server-level resource (the program's dashboard
 * carries no tags) belongs to the RDS instance whose name prefixes its own (`<instance>-dashboard`),
 * as child names derive from the component's name.
 */
function ownerOf(resource: PlannedResource, serverByInstanceName: ReadonlyMap<string, string>): Owner {
    const tags = readTags(resource);
    if (tags.server && (SERVER_LEVEL_TYPES.has(resource.type) || !tags.tenant)) return { kind: "server", server: tags.server };
    if (tags.tenant) return { kind: "tenant", tenant: tags.tenant };
    if (SERVER_LEVEL_TYPES.has(resource.type)) {
        for (let at = resource.name.lastIndexOf("-"); at > 0; at = resource.name.lastIndexOf("-", at - 1)) {
            const server = serverByInstanceName.get(resource.name.slice(0, at));
            if (server) return { kind: "server", server };
        }
    }
    return { kind: "fleet" };
}

/** Prices every resource of the graph. Pure: same graph, prices and assumptions, same result. */
export function priceGraph(graph: readonly PlannedResource[], prices: PriceBook, assumptions: CostAssumptions): PricedGraph {
    const lineItems: LineItem[] = [];
    const unpriced: UnpricedResource[] = [];
    const warnings: string[] = [];
    const servers = new Map<string, ServerInfo>();
    const tenants = new Map<string, TenantInfo>();
    const rdsInstances: PlannedResource[] = [];
    const buckets: PlannedResource[] = [];
    const dashboards: PlannedResource[] = [];
    const lifecycles: PlannedResource[] = [];
    const versionings: PlannedResource[] = [];
    let freeResources = 0;

    const tenant = (id: string): TenantInfo => {
        let info = tenants.get(id);
        if (!info) {
            info = { tenant: id };
            tenants.set(id, info);
        }
        return info;
    };
    const hours = prices.hoursPerMonth.value;

    // Pass 1: inventory (servers, tenants, placement) and the resources priced in pass 2.
    for (const resource of graph) {
        const tags = readTags(resource);
        if (tags.tenant) {
            const info = tenant(tags.tenant);
            info.plan ??= tags.plan;
            if (!SERVER_LEVEL_TYPES.has(resource.type)) info.server ??= tags.server;
        }
        switch (resource.type) {
            case TYPES.rdsInstance: {
                const server = tags.server ?? resource.name;
                if (!tags.server) warnings.push(`RDS instance ${resource.name} has no "server" tag; its costs are grouped under server "${server}" (the program should tag it)`);
                servers.set(server, {
                    server,
                    resourceName: resource.name,
                    instanceClass: stringInput(resource, "instanceClass"),
                    multiAz: booleanInput(resource, "multiAz") ?? false,
                    dedicatedTo: tags.tenant,
                });
                if (tags.tenant) {
                    const info = tenant(tags.tenant);
                    info.server = server;
                    info.plan ??= tags.plan;
                }
                rdsInstances.push(resource);
                break;
            }
            case TYPES.pgDatabase: {
                const id = tenantIdFromDatabaseName(resource.inputs.name);
                if (id) {
                    const limit = numberInput(resource, "connectionLimit");
                    if (limit !== undefined) tenant(id).connectionLimit = limit;
                    else tenant(id);
                }
                break;
            }
            case TYPES.bucket:
                buckets.push(resource);
                break;
            case TYPES.dashboard:
                dashboards.push(resource);
                break;
            case TYPES.bucketLifecycle:
                lifecycles.push(resource);
                break;
            case TYPES.bucketVersioning:
                versionings.push(resource);
                break;
        }
    }

    const serverByInstanceName = new Map([...servers.values()].map((s) => [s.resourceName, s.server]));

    // Pass 2: price.
    for (const resource of graph) {
        const base = { resourceType: resource.type, resourceName: resource.name, owner: ownerOf(resource, serverByInstanceName) };
        const flat = (item: string, quantity: number, unit: string, unitPriceUsd: number, note?: string): LineItem => {
            const monthlyUsd = quantity * unitPriceUsd;
            return { ...base, item, quantity, unit, unitPriceUsd, monthlyUsd, worstCaseMonthlyUsd: monthlyUsd, ...(note ? { note } : {}) };
        };
        switch (resource.type) {
            case TYPES.rdsInstance:
                priceRdsInstance(resource, base, prices, assumptions, servers, tenants, hours, lineItems, unpriced, warnings);
                break;
            case TYPES.bucket:
                break; // priced below, once lifecycle and versioning are matched
            case TYPES.kmsKey: {
                lineItems.push(flat("key", 1, "key-months", prices.kms.keyMonth.value));
                const requests = assumptions.kmsRequestsPerKeyMonth / 10_000;
                lineItems.push(flat("requests", requests, "10k requests", prices.kms.per10kRequests.value, `assumes ${assumptions.kmsRequestsPerKeyMonth} requests per key per month`));
                break;
            }
            case TYPES.secret:
                lineItems.push(flat("secret", 1, "secret-months", prices.secretsManager.secretMonth.value));
                break;
            case TYPES.metricAlarm: {
                const period = numberInput(resource, "period");
                if (period !== undefined && period < 60) lineItems.push(flat("alarm (high resolution)", 1, "alarm-months", prices.cloudwatch.highResolutionAlarmMonth.value));
                else lineItems.push(flat("alarm", 1, "alarm-months", prices.cloudwatch.standardAlarmMonth.value));
                break;
            }
            case TYPES.dashboard:
                break; // priced below, in name order, after the free ones
            default:
                if (isFreeType(resource.type)) freeResources += 1;
                else unpriced.push({ type: resource.type, name: resource.name, reason: "no price for this resource type in the cost preview" });
        }
    }

    priceBuckets(buckets, lifecycles, versionings, prices, assumptions, lineItems, unpriced, warnings);

    const freeDashboards = prices.cloudwatch.freeDashboards.value;
    [...dashboards]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .forEach((resource, index) => {
            const free = index < freeDashboards;
            const unitPriceUsd = free ? 0 : prices.cloudwatch.dashboardMonth.value;
            lineItems.push({
                resourceType: resource.type,
                resourceName: resource.name,
                owner: ownerOf(resource, serverByInstanceName),
                item: "dashboard",
                quantity: 1,
                unit: "dashboard-months",
                unitPriceUsd,
                monthlyUsd: unitPriceUsd,
                worstCaseMonthlyUsd: unitPriceUsd,
                ...(free ? { note: `one of the ${freeDashboards} free dashboards per account (assumes the account uses no others)` } : {}),
            });
        });

    const transfer = prices.dataTransfer.outToInternetGb.value;
    for (const id of [...tenants.keys()].sort()) {
        const monthlyUsd = assumptions.transferGbPerTenant * transfer;
        lineItems.push({
            resourceType: "(assumption)",
            resourceName: `data transfer ${id}`,
            owner: { kind: "tenant", tenant: id },
            item: "data transfer out",
            quantity: assumptions.transferGbPerTenant,
            unit: "GB",
            unitPriceUsd: transfer,
            monthlyUsd,
            worstCaseMonthlyUsd: monthlyUsd,
            note: "tenantdb:cost.transferGbPerTenant",
        });
    }

    for (const info of tenants.values()) {
        if (!info.server) warnings.push(`tenant ${info.tenant}: no AWS resource tagged with its server (no backup bucket, or a server outside AWS); no server cost is allocated to it`);
    }
    return { lineItems, unpriced, freeResources, servers, tenants, warnings };
}

function priceRdsInstance(
    resource: PlannedResource,
    base: { resourceType: string; resourceName: string; owner: Owner },
    prices: PriceBook,
    assumptions: CostAssumptions,
    servers: Map<string, ServerInfo>,
    tenants: Map<string, TenantInfo>,
    hours: number,
    lineItems: LineItem[],
    unpriced: UnpricedResource[],
    warnings: string[],
): void {
    const multiAz = booleanInput(resource, "multiAz") ?? false;
    const copies = multiAz ? 2 : 1;
    const deployment = multiAz ? "Multi-AZ" : "Single-AZ";
    const push = (item: string, quantity: number, unit: string, unitPriceUsd: number, worstQuantity = quantity, note?: string) =>
        lineItems.push({
            ...base,
            item,
            quantity,
            unit,
            unitPriceUsd,
            monthlyUsd: quantity * unitPriceUsd,
            worstCaseMonthlyUsd: worstQuantity * unitPriceUsd,
            ...(note ? { note } : {}),
        });

    const instanceClass = stringInput(resource, "instanceClass");
    const hourly = instanceClass ? prices.rds.instanceHourly[instanceClass] : undefined;
    if (!instanceClass) unpriced.push({ type: resource.type, name: `${resource.name} (instance hours)`, reason: "instanceClass is not set or unknown at preview time" });
    else if (!hourly) {
        unpriced.push({
            type: resource.type,
            name: `${resource.name} (instance hours)`,
            reason: `instanceClass "${instanceClass}" has no price in the prices file; add rds.instanceHourly["${instanceClass}"] or run \`npm run cost -- refresh-prices\``,
        });
    } else push(`instance hours (${instanceClass}, ${deployment})`, hours * copies, "instance-hours", hourly.value);

    // Storage, IOPS.
    const storageType = stringInput(resource, "storageType") ?? "gp3";
    const allocated = numberInput(resource, "allocatedStorage");
    const ceiling = numberInput(resource, "maxAllocatedStorage");
    const storagePrice = prices.rds.storageGbMonth[storageType];
    if (allocated === undefined) {
        unpriced.push({ type: resource.type, name: `${resource.name} (storage)`, reason: "allocatedStorage is not set or unknown at preview time" });
    } else if (!storagePrice) {
        unpriced.push({ type: resource.type, name: `${resource.name} (storage)`, reason: `storageType "${storageType}" has no price; add rds.storageGbMonth["${storageType}"] to the prices file` });
    } else {
        const worstGb = ceiling !== undefined && ceiling > allocated ? ceiling : allocated;
        push(`storage (${storageType}, ${deployment})`, allocated * copies, "GB-months", storagePrice.value, worstGb * copies,
            worstGb > allocated ? `worst case at the autoscaling ceiling of ${worstGb} GB` : undefined);
    }
    const iops = numberInput(resource, "iops");
    if (storageType === "io1" || storageType === "io2") {
        const iopsPrice = prices.rds.iopsMonth[storageType];
        if (iops === undefined || !iopsPrice) {
            unpriced.push({ type: resource.type, name: `${resource.name} (provisioned IOPS)`, reason: iops === undefined ? `storageType ${storageType} needs iops, which is not set` : `no rds.iopsMonth["${storageType}"] in the prices file` });
        } else push(`provisioned IOPS (${storageType}, ${deployment})`, iops * copies, "IOPS-months", iopsPrice.value);
    } else if (storageType === "gp3" && iops !== undefined && allocated !== undefined) {
        const baseline = prices.rds.gp3BaselineIops;
        const included = allocated >= baseline.thresholdGb ? baseline.atOrAboveThresholdIops : baseline.belowThresholdIops;
        const extra = Math.max(0, iops - included);
        const iopsPrice = prices.rds.iopsMonth.gp3;
        if (extra > 0 && iopsPrice) push(`IOPS above gp3 baseline (${deployment})`, extra * copies, "IOPS-months", iopsPrice.value);
        else if (extra > 0) unpriced.push({ type: resource.type, name: `${resource.name} (gp3 IOPS)`, reason: `no rds.iopsMonth["gp3"] in the prices file` });
    }

    // Automated backups beyond the free allowance (100% of provisioned storage; not doubled for Multi-AZ).
    const server = readTags(resource).server ?? resource.name;
    const info = servers.get(server);
    const onServer = [...tenants.values()].filter((t) => t.server === server || (info?.dedicatedTo !== undefined && t.tenant === info.dedicatedTo));
    const retentionInput = numberInput(resource, "backupRetentionPeriod");
    const retention = retentionInput ?? DEFAULT_RDS_BACKUP_RETENTION_DAYS;
    if (retentionInput === undefined) warnings.push(`RDS instance ${resource.name}: backupRetentionPeriod is not set; assuming the RDS default of ${DEFAULT_RDS_BACKUP_RETENTION_DAYS} day`);
    const dataGb = onServer.reduce((sum, t) => sum + tenantSizeGb(assumptions, t.tenant), 0);
    if (allocated !== undefined && dataGb > allocated) {
        warnings.push(`server ${server}: its tenants' data (${round2(dataGb)} GB) exceeds allocatedStorage (${allocated} GB); storage autoscaling will grow it${ceiling ? ` toward ${ceiling} GB (the worst case column)` : ", but maxAllocatedStorage is not set"}`);
    }
    if (retention > 0 && allocated !== undefined) {
        const backupGb = dataGb * (1 + assumptions.dailyChangeRate * retention);
        const billable = Math.max(0, backupGb - allocated);
        push("backup storage beyond free allowance", billable, "GB-months", prices.rds.backupGbMonth.value, billable,
            `${round2(backupGb)} GB of backups (${onServer.length} tenants, ${retention} days, ${assumptions.dailyChangeRate * 100}%/day change) minus ${allocated} GB free`);
    }

    // Performance Insights.
    const piEnabled = booleanInput(resource, "performanceInsightsEnabled") ?? false;
    const piRetention = numberInput(resource, "performanceInsightsRetentionPeriod") ?? 7;
    if (piEnabled && piRetention > 7) {
        const vcpus = instanceClass ? prices.rds.vcpus.classes[instanceClass] : undefined;
        if (vcpus === undefined) {
            unpriced.push({ type: resource.type, name: `${resource.name} (Performance Insights)`, reason: `no vCPU count for instanceClass "${instanceClass ?? "(unknown)"}"; add it to rds.vcpus.classes in the prices file` });
        } else {
            const months = piRetention >= 731 ? 24 : Math.max(1, Math.round(piRetention / 31));
            const pi = prices.rds.performanceInsights;
            const perVcpu = pi.firstMonthPerVcpu.value + (months - 1) * pi.additionalMonthPerVcpu.value;
            push(`Performance Insights (${months} months retention)`, vcpus * copies, "vCPU-months", perVcpu, vcpus * copies,
                `${vcpus} vCPU${multiAz ? " x 2 (Multi-AZ)" : ""}; first month + ${months - 1} additional`);
        }
    }

    if (booleanInput(resource, "manageMasterUserPassword") === true) {
        push("master password secret (Secrets Manager, managed by RDS)", 1, "secret-months", prices.secretsManager.secretMonth.value);
    }
}

function priceBuckets(
    buckets: readonly PlannedResource[],
    lifecycles: readonly PlannedResource[],
    versionings: readonly PlannedResource[],
    prices: PriceBook,
    assumptions: CostAssumptions,
    lineItems: LineItem[],
    unpriced: UnpricedResource[],
    warnings: string[],
): void {
    const byKey = new Map<string, PlannedResource>();
    for (const bucket of buckets) {
        byKey.set(bucket.name, bucket);
        const physical = stringInput(bucket, "bucket");
        if (physical) byKey.set(physical, bucket);
    }
    const matchBucket = (config: PlannedResource): PlannedResource | undefined => {
        const ref = stringInput(config, "bucket");
        if (ref && byKey.has(ref)) return byKey.get(ref);
        // Child names derive from the bucket's name (`<bucket>-lifecycle`): try the longest prefix at a "-".
        for (let at = config.name.lastIndexOf("-"); at > 0; at = config.name.lastIndexOf("-", at - 1)) {
            const candidate = byKey.get(config.name.slice(0, at));
            if (candidate) return candidate;
        }
        return undefined;
    };
    const expirationDays = new Map<PlannedResource, number>();
    const noncurrentDays = new Map<PlannedResource, number | "unbounded">();
    for (const lifecycle of lifecycles) {
        const bucket = matchBucket(lifecycle);
        if (!bucket) {
            warnings.push(`bucket lifecycle ${lifecycle.name}: no bucket in the graph matches it (by its bucket input or name prefix)`);
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
        const tags = readTags(bucket);
        if (!tags.tenant) {
            unpriced.push({ type: bucket.type, name: bucket.name, reason: 'no "tenant" tag, so its backup volume cannot be estimated from a tenant database size' });
            continue;
        }
        let days = expirationDays.get(bucket);
        if (days === undefined) {
            days = DEFAULT_BACKUP_RETENTION_DAYS;
            warnings.push(`bucket ${bucket.name}: no lifecycle expiration found; assuming backups are kept ${DEFAULT_BACKUP_RETENTION_DAYS} days`);
        }
        let note = `daily full dump: ${tenantSizeGb(assumptions, tags.tenant)} GB x ${assumptions.dumpCompressionRatio} compression x ${days} days`;
        if (versioned.has(bucket)) {
            const extra = noncurrentDays.get(bucket);
            if (extra === "unbounded" || extra === undefined) {
                warnings.push(`bucket ${bucket.name}: versioning is on but no noncurrent-version expiration is set; expired dumps are kept as noncurrent versions forever and this estimate does not include them`);
            } else {
                days += extra;
                note += ` + ${extra} noncurrent days (versioning)`;
            }
        }
        const gb = tenantSizeGb(assumptions, tags.tenant) * assumptions.dumpCompressionRatio * days;
        const monthlyUsd = gb * prices.s3.standardGbMonth.value;
        lineItems.push({
            resourceType: bucket.type,
            resourceName: bucket.name,
            owner: { kind: "tenant", tenant: tags.tenant },
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

function round2(value: number): number {
    return Math.round(value * 100) / 100;
}

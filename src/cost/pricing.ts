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
import { tenantIdFromDatabase } from "../naming";
import { CostAssumptions } from "./assumptions";
import {
    PlannedResource,
    TYPES,
    booleanInput,
    isFreeType,
    numberInput,
    readTags,
    stringInput,
} from "./graph";
import { PriceBook } from "./prices";
import { priceRdsInstance } from "./pricing-rds";
import { priceBuckets } from "./pricing-s3";

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

export { DEFAULT_BACKUP_RETENTION_DAYS, readLifecycleRules } from "./pricing-s3";
export { DEFAULT_RDS_BACKUP_RETENTION_DAYS } from "./pricing-rds";

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
                const id = tenantIdFromDatabase(resource.inputs.name);
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

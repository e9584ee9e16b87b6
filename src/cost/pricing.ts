/**
 * Prices a planned resource graph: one line item per billable dimension of each resource,
 * owned by a server, a tenant or the fleet (by the component it sits in: owners.ts). Allocation
 * to tenants is a separate step (`allocate.ts`), so the same line items can be split by any rule.
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
 * - Data transfer out: transferGbPerTenant x price per GB, per tenant on a server in AWS.
 * - External server: `tenantdb:cost.servers.<name>.monthlyUsd` when set, else unpriced.
 *
 * Placement (each tenant's server and plan, each server's kind) comes from the stack config
 * when the assumptions carry it, else from the tags on AWS resources.
 */
import { tenantIdFromDatabase } from "../naming";
import { TYPES, booleanInput, isFreeType, numberInput, readTags, stringInput } from "./graph";
import { ownersOf } from "./owners";
import { PriceBook } from "./prices";
import { priceRdsInstance } from "./pricing-rds";
import { priceBuckets } from "./pricing-s3";
import {
    CostAssumptions,
    CostPlacement,
    LineItem,
    Owner,
    PlannedResource,
    PricedGraph,
    PricingContext,
    ServerInfo,
    TenantInfo,
    TenantdbTags,
} from "./types";

/** What pass 1 finds: servers and tenants, and the resources priced together once all are known. */
interface Inventory {
    readonly servers: Map<string, ServerInfo>;
    readonly tenants: Map<string, TenantInfo>;
    readonly instanceServers: Map<PlannedResource, ServerInfo>;
    readonly buckets: PlannedResource[];
    readonly dashboards: PlannedResource[];
    readonly lifecycles: PlannedResource[];
    readonly versionings: PlannedResource[];
}

/**
 * The server an RDS instance is: its RdsServer component's. One outside every component is still
 * listed (as its `server` tag, else its name) so it shows in the report, but no tenant carries its cost.
 */
function instanceServer(instance: PlannedResource, owner: Owner, tags: TenantdbTags, warnings: string[]): string {
    if (owner.kind === "server") return owner.server;
    const server = tags.server ?? instance.name;
    warnings.push(
        `RDS instance ${instance.name} is not inside a ${TYPES.rdsServer} component; it is listed as server "${server}" but no tenant carries its costs`,
    );
    return server;
}

/** Pass 1: servers, tenants and their placement (from tags), and the resources priced in pass 2. */
function takeInventory(graph: readonly PlannedResource[], { ownerOf, warnings, assumptions }: PricingContext): Inventory {
    const inventory: Inventory = {
        servers: new Map(),
        tenants: new Map(),
        instanceServers: new Map(),
        buckets: [],
        dashboards: [],
        lifecycles: [],
        versionings: [],
    };
    const tenant = (id: string): TenantInfo => {
        let info = inventory.tenants.get(id);
        if (!info) {
            info = { tenant: id };
            inventory.tenants.set(id, info);
        }
        return info;
    };
    for (const resource of graph) {
        const tags = readTags(resource);
        const owner = ownerOf(resource);
        if (tags.tenant) {
            const info = tenant(tags.tenant);
            info.plan ??= tags.plan;
            // A dedicated server's resources carry its tenant's tag too; placement comes from the tenant's own.
            if (owner.kind === "tenant") info.server ??= tags.server;
        }
        switch (resource.type) {
            case TYPES.rdsInstance: {
                const server = instanceServer(resource, owner, tags, warnings);
                const info: ServerInfo = {
                    server,
                    resourceName: resource.name,
                    instanceClass: stringInput(resource, "instanceClass"),
                    multiAz: booleanInput(resource, "multiAz") ?? false,
                    dedicatedTo: tags.tenant,
                };
                inventory.servers.set(server, info);
                inventory.instanceServers.set(resource, info);
                if (tags.tenant) {
                    const dedicated = tenant(tags.tenant);
                    dedicated.server = server;
                    dedicated.plan ??= tags.plan;
                }
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
                inventory.buckets.push(resource);
                break;
            case TYPES.dashboard:
                inventory.dashboards.push(resource);
                break;
            case TYPES.bucketLifecycle:
                inventory.lifecycles.push(resource);
                break;
            case TYPES.bucketVersioning:
                inventory.versionings.push(resource);
                break;
        }
    }
    if (assumptions.placement) applyPlacement(inventory, assumptions.placement);
    return inventory;
}

/**
 * Placement from the stack config over what the tags say: each tenant in the graph gets its
 * configured server and plan, and every external server is listed, as one outside AWS.
 */
function applyPlacement(inventory: Inventory, placement: CostPlacement): void {
    for (const info of inventory.tenants.values()) {
        const placed = placement.tenants[info.tenant];
        if (!placed) continue;
        info.server = placed.server;
        info.plan = placed.plan;
    }
    for (const [name, server] of Object.entries(placement.servers)) {
        if (server.kind === "external" && !inventory.servers.has(name))
            inventory.servers.set(name, { server: name, resourceName: name, kind: "external", multiAz: false });
    }
}

/** An external server's cost: its configured monthly price, else unpriced (tenantdb cannot know it). */
function priceExternalServer(server: ServerInfo, { assumptions, lineItems, unpriced }: PricingContext): void {
    const monthlyUsd = assumptions.placement?.servers[server.server]?.monthlyUsd;
    if (monthlyUsd === undefined) {
        unpriced.push({ type: EXTERNAL_SERVER, name: server.server, reason: externalServerReason(server.server) });
        return;
    }
    lineItems.push({
        resourceType: EXTERNAL_SERVER,
        resourceName: server.server,
        owner: { kind: "server", server: server.server },
        item: "server (monthly price from config)",
        quantity: 1,
        unit: "server-months",
        unitPriceUsd: monthlyUsd,
        monthlyUsd,
        worstCaseMonthlyUsd: monthlyUsd,
        note: `tenantdb:cost.servers.${server.server}.monthlyUsd`,
    });
}

/** Type of the unpriced entry (or line item) an external server gets; not a Pulumi type. */
export const EXTERNAL_SERVER = "(external server)";

/** Why an external server has no price, and how to give it one. */
export function externalServerReason(server: string): string {
    return (
        `an existing PostgreSQL server, whose cost tenantdb does not know: counted in no total; ` +
        `set tenantdb:cost.servers.${server}.monthlyUsd to count it`
    );
}

/** Dashboards after the free ones per account, in name order. */
function priceDashboards(dashboards: readonly PlannedResource[], { prices, ownerOf, lineItems }: PricingContext): void {
    const freeDashboards = prices.cloudwatch.freeDashboards.value;
    [...dashboards]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .forEach((resource, index) => {
            const free = index < freeDashboards;
            const unitPriceUsd = free ? 0 : prices.cloudwatch.dashboardMonth.value;
            lineItems.push({
                resourceType: resource.type,
                resourceName: resource.name,
                owner: ownerOf(resource),
                item: "dashboard",
                quantity: 1,
                unit: "dashboard-months",
                unitPriceUsd,
                monthlyUsd: unitPriceUsd,
                worstCaseMonthlyUsd: unitPriceUsd,
                ...(free ? { note: `one of the ${freeDashboards} free dashboards per account (assumes the account uses no others)` } : {}),
            });
        });
}

/**
 * The assumed data transfer out of every tenant whose server is in AWS. A tenant on an external
 * server sends its data from outside AWS, so AWS bills none of it.
 */
function priceTransfer(inventory: Inventory, { prices, assumptions, lineItems }: PricingContext): void {
    const transfer = prices.dataTransfer.outToInternetGb.value;
    for (const id of [...inventory.tenants.keys()].sort()) {
        const server = inventory.tenants.get(id)!.server;
        if (server !== undefined && inventory.servers.get(server)?.kind === "external") continue;
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
}

/** Prices every resource of the graph. Pure: same graph, prices and assumptions, same result. */
export function priceGraph(graph: readonly PlannedResource[], prices: PriceBook, assumptions: CostAssumptions): PricedGraph {
    const context: PricingContext = { prices, assumptions, ownerOf: ownersOf(graph), lineItems: [], unpriced: [], warnings: [] };
    const { lineItems, unpriced, warnings, ownerOf } = context;
    const inventory = takeInventory(graph, context);
    let freeResources = 0;

    // Pass 2: price.
    for (const resource of graph) {
        const base = { resourceType: resource.type, resourceName: resource.name, owner: ownerOf(resource) };
        const flat = (item: string, quantity: number, unit: string, unitPriceUsd: number, note?: string): LineItem => {
            const monthlyUsd = quantity * unitPriceUsd;
            return { ...base, item, quantity, unit, unitPriceUsd, monthlyUsd, worstCaseMonthlyUsd: monthlyUsd, ...(note ? { note } : {}) };
        };
        switch (resource.type) {
            case TYPES.rdsInstance:
                priceRdsInstance(resource, inventory.instanceServers.get(resource)!, inventory.tenants, context);
                break;
            case TYPES.bucket:
                break; // priced below, once lifecycle and versioning are matched
            case TYPES.kmsKey: {
                lineItems.push(flat("key", 1, "key-months", prices.kms.keyMonth.value));
                const requests = assumptions.kmsRequestsPerKeyMonth / 10_000;
                lineItems.push(
                    flat(
                        "requests",
                        requests,
                        "10k requests",
                        prices.kms.per10kRequests.value,
                        `assumes ${assumptions.kmsRequestsPerKeyMonth} requests per key per month`,
                    ),
                );
                break;
            }
            case TYPES.secret:
                lineItems.push(flat("secret", 1, "secret-months", prices.secretsManager.secretMonth.value));
                break;
            case TYPES.metricAlarm: {
                const period = numberInput(resource, "period");
                if (period !== undefined && period < 60)
                    lineItems.push(flat("alarm (high resolution)", 1, "alarm-months", prices.cloudwatch.highResolutionAlarmMonth.value));
                else lineItems.push(flat("alarm", 1, "alarm-months", prices.cloudwatch.standardAlarmMonth.value));
                break;
            }
            case TYPES.dashboard:
                break; // priced below, in name order, after the free ones
            default:
                if (isFreeType(resource.type)) freeResources += 1;
                else
                    unpriced.push({
                        type: resource.type,
                        name: resource.name,
                        reason: "no price for this resource type in the cost preview",
                    });
        }
    }

    priceBuckets(inventory.buckets, inventory.lifecycles, inventory.versionings, context);
    priceDashboards(inventory.dashboards, context);
    priceTransfer(inventory, context);
    for (const server of inventory.servers.values()) if (server.kind === "external") priceExternalServer(server, context);

    for (const info of inventory.tenants.values()) {
        if (!info.server)
            warnings.push(
                `tenant ${info.tenant}: no AWS resource tagged with its server (no backup bucket, or a server outside AWS); no server cost is allocated to it`,
            );
    }
    return { lineItems, unpriced, freeResources, servers: inventory.servers, tenants: inventory.tenants, warnings };
}

/**
 * Allocates priced line items to tenants and builds the cost report.
 *
 * Items are owned by the component they sit in (owners.ts): a tenant's TenantDatabase, a
 * server's RdsServer, or neither (the fleet).
 *
 * - A tenant-owned item (its bucket, KMS key, data transfer) goes to that tenant.
 * - A server-owned item goes to the server's dedicated tenant when the RDS instance carries a
 *   `tenant` tag (an enterprise tenant's dedicated server); otherwise it is split between the
 *   tenants placed on the server by the rule in `tenantdb:cost.allocation`:
 *   - `equal`: the same share for every tenant on the server;
 *   - `storage`: in proportion to each tenant's database size (`expectedSizeGb`, else `databaseSizeGb`);
 *   - `connections`: in proportion to each tenant database's `connectionLimit`.
 * - A server with no tenant, and items outside every tenant's and server's component, stay
 *   unallocated and are shown on their own line, so the tenant rows plus that line add up to the total.
 */
import { tenantSizeGb } from "./assumptions";
import { CostError } from "./errors";
import { PriceBook, summarizePrices } from "./prices";
import { priceGraph } from "./pricing";
import {
    CostAssumptions,
    CostReport,
    LineItem,
    PlannedResource,
    PricedGraph,
    PricesSummary,
    ServerCost,
    ServerInfo,
    TenantCost,
} from "./types";

/** Prices a graph and allocates it: the whole cost preview of one configuration. */
export function estimateCost(
    graph: readonly PlannedResource[],
    prices: PriceBook,
    assumptions: CostAssumptions,
    pricesFile?: string,
): CostReport {
    if (prices.region !== assumptions.region) {
        throw new CostError(
            `The prices file covers region "${prices.region}" but tenantdb:cost.region is "${assumptions.region}". ` +
                `Pass a prices file for ${assumptions.region} with --prices (create one with \`npm run cost -- refresh-prices --region ${assumptions.region}\`), or set tenantdb:cost.region to "${prices.region}".`,
        );
    }
    return allocate(priceGraph(graph, prices, assumptions), assumptions, summarizePrices(prices, pricesFile));
}

/** Shares of a shared server's cost, by tenant, under the assumptions' rule. Sums to 1. */
export function serverShares(
    server: ServerInfo,
    tenantIds: readonly string[],
    priced: PricedGraph,
    assumptions: CostAssumptions,
): Map<string, number> {
    const shares = new Map<string, number>();
    if (server.dedicatedTo) {
        shares.set(server.dedicatedTo, 1);
        return shares;
    }
    if (tenantIds.length === 0) return shares;
    let weights: number[];
    switch (assumptions.allocation) {
        case "equal":
            weights = tenantIds.map(() => 1);
            break;
        case "storage":
            weights = tenantIds.map((id) => tenantSizeGb(assumptions, id));
            break;
        case "connections":
            weights = tenantIds.map((id) => {
                const limit = priced.tenants.get(id)?.connectionLimit;
                if (limit === undefined || limit <= 0) {
                    throw new CostError(
                        `tenantdb:cost.allocation is "connections" but tenant ${id} on server ${server.server} has ` +
                            `${limit === undefined ? "no connectionLimit on its database" : `connectionLimit ${limit} (unlimited)`}; ` +
                            `give the tenant a connection limit, or set tenantdb:cost.allocation to "equal" or "storage".`,
                    );
                }
                return limit;
            });
            break;
    }
    const total = weights.reduce((sum, w) => sum + w, 0);
    tenantIds.forEach((id, i) => shares.set(id, total > 0 ? weights[i] / total : 1 / tenantIds.length));
    return shares;
}

/** Allocates priced line items to tenants. */
export function allocate(priced: PricedGraph, assumptions: CostAssumptions, prices: PricesSummary): CostReport {
    const serverTotals = new Map<string, { monthly: number; worst: number }>();
    const own = new Map<string, { monthly: number; worst: number }>();
    const unallocatedItems: LineItem[] = [];
    let total = 0;
    let worstTotal = 0;
    const add = (map: Map<string, { monthly: number; worst: number }>, key: string, item: LineItem) => {
        const entry = map.get(key) ?? { monthly: 0, worst: 0 };
        entry.monthly += item.monthlyUsd;
        entry.worst += item.worstCaseMonthlyUsd;
        map.set(key, entry);
    };
    for (const item of priced.lineItems) {
        total += item.monthlyUsd;
        worstTotal += item.worstCaseMonthlyUsd;
        if (item.owner.kind === "server") add(serverTotals, item.owner.server, item);
        else if (item.owner.kind === "tenant") add(own, item.owner.tenant, item);
        else unallocatedItems.push(item);
    }

    const tenantsByServer = new Map<string, string[]>();
    for (const info of [...priced.tenants.values()].sort((a, b) => compare(a.tenant, b.tenant))) {
        if (!info.server) continue;
        const list = tenantsByServer.get(info.server) ?? [];
        list.push(info.tenant);
        tenantsByServer.set(info.server, list);
    }

    const shareOf = new Map<string, { share: number; monthly: number; worst: number }>();
    const unpricedServers = new Set<string>();
    const servers: ServerCost[] = [];
    const serverNames = new Set([...priced.servers.keys(), ...serverTotals.keys()]);
    let unallocatedMonthly = unallocatedItems.reduce((s, i) => s + i.monthlyUsd, 0);
    let unallocatedWorst = unallocatedItems.reduce((s, i) => s + i.worstCaseMonthlyUsd, 0);
    for (const name of [...serverNames].sort(compare)) {
        const info: ServerInfo = priced.servers.get(name) ?? { server: name, resourceName: name, multiAz: false };
        const tenantIds = info.dedicatedTo ? [info.dedicatedTo] : (tenantsByServer.get(name) ?? []);
        const cost = serverTotals.get(name) ?? { monthly: 0, worst: 0 };
        const kind = info.kind ?? "rds";
        const isPriced = kind === "rds" || serverTotals.has(name);
        if (!isPriced) unpricedServers.add(name);
        servers.push({
            server: name,
            kind,
            priced: isPriced,
            ...(info.instanceClass ? { instanceClass: info.instanceClass } : {}),
            multiAz: info.multiAz,
            ...(info.dedicatedTo ? { dedicatedTo: info.dedicatedTo } : {}),
            tenants: tenantIds,
            monthlyUsd: cost.monthly,
            worstCaseMonthlyUsd: cost.worst,
        });
        const shares = serverShares(info, tenantIds, priced, assumptions);
        if (shares.size === 0) {
            unallocatedMonthly += cost.monthly;
            unallocatedWorst += cost.worst;
            unallocatedItems.push(...priced.lineItems.filter((i) => i.owner.kind === "server" && i.owner.server === name));
            continue;
        }
        for (const [tenant, share] of shares) {
            const entry = shareOf.get(tenant) ?? { share: 0, monthly: 0, worst: 0 };
            entry.share += share;
            entry.monthly += share * cost.monthly;
            entry.worst += share * cost.worst;
            shareOf.set(tenant, entry);
        }
    }

    const tenants: TenantCost[] = [...priced.tenants.values()]
        .sort((a, b) => compare(a.tenant, b.tenant))
        .map((info) => {
            const server = shareOf.get(info.tenant) ?? { share: 0, monthly: 0, worst: 0 };
            const mine = own.get(info.tenant) ?? { monthly: 0, worst: 0 };
            return {
                tenant: info.tenant,
                ...(info.plan ? { plan: info.plan } : {}),
                ...(info.server ? { server: info.server } : {}),
                sizeGb: tenantSizeGb(assumptions, info.tenant),
                serverShare: server.share,
                serverShareUsd: server.monthly,
                serverPriced: info.server === undefined || !unpricedServers.has(info.server),
                ownUsd: mine.monthly,
                monthlyUsd: server.monthly + mine.monthly,
                worstCaseMonthlyUsd: server.worst + mine.worst,
            };
        });

    return {
        region: assumptions.region,
        prices,
        allocation: assumptions.allocation,
        assumptions,
        totalMonthlyUsd: total,
        worstCaseMonthlyUsd: worstTotal,
        servers,
        tenants,
        unallocated: { monthlyUsd: unallocatedMonthly, worstCaseMonthlyUsd: unallocatedWorst, items: unallocatedItems },
        lineItems: priced.lineItems,
        unpriced: priced.unpriced,
        freeResources: priced.freeResources,
        warnings: priced.warnings,
    };
}

function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

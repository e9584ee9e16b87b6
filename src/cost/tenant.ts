/**
 * One tenant's part of a cost report (`cost preview --tenant <id>`) or of a diff (`cost diff
 * --tenant <id>`): the line items it carries, its own in full and its server's at its share, so
 * they add up to its row of the report.
 */
import { CostError } from "./errors";
import { ChangeStatus, CostReport, LineItem, PricesSummary, ServerCost, TenantCost, UnpricedResource } from "./types";

/** One line item as one tenant carries it. */
export interface TenantLineItem {
    readonly resourceType: string;
    readonly resourceName: string;
    readonly item: string;
    /** `own`: the tenant's resource (all of it); `server`: its server's, carried at `share`. */
    readonly via: "own" | "server";
    readonly quantity: number;
    readonly unit: string;
    readonly unitPriceUsd: number;
    /** Fraction of the item this tenant carries: 1 for its own, its server share for its server's. */
    readonly share: number;
    /** Its part of the item's monthly cost (`share` x the item's). */
    readonly monthlyUsd: number;
    readonly worstCaseMonthlyUsd: number;
    readonly note?: string;
}

/** One tenant's cost and the line items it adds up from. */
export interface TenantReport {
    readonly region: string;
    readonly prices: PricesSummary;
    readonly allocation: CostReport["allocation"];
    readonly tenant: TenantCost;
    /** Its server, as in the report's `servers`. */
    readonly server?: ServerCost;
    readonly lineItems: TenantLineItem[];
    /** Its server, when unpriced (an external server without a monthly price): not in its total. */
    readonly unpriced: UnpricedResource[];
}

/** Refuses an id the reports do not have, listing the ones they do. */
function unknownTenant(id: string, known: Iterable<string>): CostError {
    const ids = [...new Set(known)].sort();
    return new CostError(
        `No tenant ${JSON.stringify(id)} in this stack; --tenant takes one of: ${ids.length > 0 ? ids.join(", ") : "(no tenants)"}.`,
    );
}

function carried(item: LineItem, via: "own" | "server", share: number): TenantLineItem {
    return {
        resourceType: item.resourceType,
        resourceName: item.resourceName,
        item: item.item,
        via,
        quantity: item.quantity,
        unit: item.unit,
        unitPriceUsd: item.unitPriceUsd,
        share,
        monthlyUsd: share * item.monthlyUsd,
        worstCaseMonthlyUsd: share * item.worstCaseMonthlyUsd,
        ...(item.note ? { note: item.note } : {}),
    };
}

/** The line items `tenant` carries in `report`; they add up to its `monthlyUsd`. */
function lineItemsOf(report: CostReport, tenant: TenantCost): TenantLineItem[] {
    const items: TenantLineItem[] = [];
    for (const item of report.lineItems) {
        if (item.owner.kind === "tenant" && item.owner.tenant === tenant.tenant) items.push(carried(item, "own", 1));
        else if (item.owner.kind === "server" && item.owner.server === tenant.server && tenant.serverShare > 0)
            items.push(carried(item, "server", tenant.serverShare));
    }
    return items;
}

/** One tenant's report; an unknown id is refused with the list of known ones. */
export function tenantReport(report: CostReport, id: string): TenantReport {
    const tenant = report.tenants.find((t) => t.tenant === id);
    if (!tenant)
        throw unknownTenant(
            id,
            report.tenants.map((t) => t.tenant),
        );
    const server = report.servers.find((s) => s.server === tenant.server);
    return {
        region: report.region,
        prices: report.prices,
        allocation: report.allocation,
        tenant,
        ...(server ? { server } : {}),
        lineItems: lineItemsOf(report, tenant),
        unpriced: report.unpriced.filter((u) => !tenant.serverPriced && u.name === tenant.server),
    };
}

/** One line item of a tenant before and after a change. */
export interface TenantLineItemDelta {
    readonly resourceType: string;
    readonly resourceName: string;
    readonly item: string;
    readonly status: ChangeStatus;
    readonly beforeUsd: number;
    readonly afterUsd: number;
    readonly deltaUsd: number;
}

/** One tenant's cost before and after a change, line item by line item. */
export interface TenantDiff {
    readonly tenant: string;
    readonly status: ChangeStatus;
    readonly before?: TenantCost;
    readonly after?: TenantCost;
    readonly beforeUsd: number;
    readonly afterUsd: number;
    readonly deltaUsd: number;
    readonly lineItems: TenantLineItemDelta[];
    readonly prices: PricesSummary;
}

/** Differences below half a cent count as unchanged (as in diff.ts). */
const EPSILON_USD = 0.005;

function statusOf(before: boolean, after: boolean, delta: number, otherChange = false): ChangeStatus {
    if (!before) return "added";
    if (!after) return "removed";
    return Math.abs(delta) >= EPSILON_USD || otherChange ? "changed" : "unchanged";
}

/** One tenant's diff; an id in neither report is refused with the list of known ones. */
export function tenantDiff(before: CostReport, after: CostReport, id: string): TenantDiff {
    const b = before.tenants.find((t) => t.tenant === id);
    const a = after.tenants.find((t) => t.tenant === id);
    if (!b && !a)
        throw unknownTenant(
            id,
            [...before.tenants, ...after.tenants].map((t) => t.tenant),
        );
    const key = (i: TenantLineItem) => `${i.resourceType}\u0000${i.resourceName}\u0000${i.item}`;
    const sum = (items: TenantLineItem[]) => {
        const byKey = new Map<string, { item: TenantLineItem; usd: number }>();
        for (const item of items) {
            const entry = byKey.get(key(item)) ?? { item, usd: 0 };
            entry.usd += item.monthlyUsd;
            byKey.set(key(item), entry);
        }
        return byKey;
    };
    const beforeItems = sum(b ? lineItemsOf(before, b) : []);
    const afterItems = sum(a ? lineItemsOf(after, a) : []);
    // In the order the report lists them (after the change), then the ones the change removes.
    const keys = [...new Set([...afterItems.keys(), ...beforeItems.keys()])];
    const lineItems = keys.map((k): TenantLineItemDelta => {
        const was = beforeItems.get(k);
        const now = afterItems.get(k);
        const { resourceType, resourceName, item } = (now ?? was)!.item;
        const beforeUsd = was?.usd ?? 0;
        const afterUsd = now?.usd ?? 0;
        return {
            resourceType,
            resourceName,
            item,
            status: statusOf(was !== undefined, now !== undefined, afterUsd - beforeUsd),
            beforeUsd,
            afterUsd,
            deltaUsd: afterUsd - beforeUsd,
        };
    });
    const beforeUsd = b?.monthlyUsd ?? 0;
    const afterUsd = a?.monthlyUsd ?? 0;
    const moved = b !== undefined && a !== undefined && (b.plan !== a.plan || b.server !== a.server);
    return {
        tenant: id,
        status: statusOf(b !== undefined, a !== undefined, afterUsd - beforeUsd, moved),
        ...(b ? { before: b } : {}),
        ...(a ? { after: a } : {}),
        beforeUsd,
        afterUsd,
        deltaUsd: afterUsd - beforeUsd,
        lineItems,
        prices: after.prices,
    };
}

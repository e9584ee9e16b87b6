/**
 * Compares the cost preview of two configurations (before and after a change), per tenant,
 * per server and in total.
 */
import { ChangeStatus, CostDiff, CostReport, ServerDelta, TenantDelta } from "./types";

/** Differences below half a cent count as unchanged (floating point noise). */
const EPSILON_USD = 0.005;

function status(inBefore: boolean, inAfter: boolean, delta: number, otherChange = false): ChangeStatus {
    if (!inBefore) return "added";
    if (!inAfter) return "removed";
    return Math.abs(delta) >= EPSILON_USD || otherChange ? "changed" : "unchanged";
}

export function diffReports(before: CostReport, after: CostReport): CostDiff {
    const beforeTenants = new Map(before.tenants.map((t) => [t.tenant, t]));
    const afterTenants = new Map(after.tenants.map((t) => [t.tenant, t]));
    const tenantIds = [...new Set([...beforeTenants.keys(), ...afterTenants.keys()])].sort();
    const tenants = tenantIds.map((id): TenantDelta => {
        const b = beforeTenants.get(id);
        const a = afterTenants.get(id);
        const beforeUsd = b?.monthlyUsd ?? 0;
        const afterUsd = a?.monthlyUsd ?? 0;
        const moved = b !== undefined && a !== undefined && (b.plan !== a.plan || b.server !== a.server);
        return {
            tenant: id,
            status: status(b !== undefined, a !== undefined, afterUsd - beforeUsd, moved),
            ...(b?.plan ? { beforePlan: b.plan } : {}),
            ...(a?.plan ? { afterPlan: a.plan } : {}),
            ...(b?.server ? { beforeServer: b.server } : {}),
            ...(a?.server ? { afterServer: a.server } : {}),
            beforeUsd,
            afterUsd,
            deltaUsd: afterUsd - beforeUsd,
        };
    });
    const beforeServers = new Map(before.servers.map((s) => [s.server, s]));
    const afterServers = new Map(after.servers.map((s) => [s.server, s]));
    const servers = [...new Set([...beforeServers.keys(), ...afterServers.keys()])].sort().map((name): ServerDelta => {
        const was = beforeServers.get(name);
        const now = afterServers.get(name);
        const beforeUsd = was?.monthlyUsd ?? 0;
        const afterUsd = now?.monthlyUsd ?? 0;
        return {
            server: name,
            kind: (now ?? was)!.kind,
            priced: (was?.priced ?? true) && (now?.priced ?? true),
            status: status(beforeServers.has(name), afterServers.has(name), afterUsd - beforeUsd),
            beforeUsd,
            afterUsd,
            deltaUsd: afterUsd - beforeUsd,
        };
    });
    const warnings: string[] = [];
    if (before.region !== after.region) warnings.push(`before is priced for ${before.region}, after for ${after.region}`);
    if (before.allocation !== after.allocation)
        warnings.push(
            `allocation rule changed from ${before.allocation} to ${after.allocation}: tenant shares move even where nothing else changed`,
        );
    return {
        prices: after.prices,
        beforeTotalUsd: before.totalMonthlyUsd,
        afterTotalUsd: after.totalMonthlyUsd,
        deltaUsd: after.totalMonthlyUsd - before.totalMonthlyUsd,
        beforeWorstCaseUsd: before.worstCaseMonthlyUsd,
        afterWorstCaseUsd: after.worstCaseMonthlyUsd,
        worstCaseDeltaUsd: after.worstCaseMonthlyUsd - before.worstCaseMonthlyUsd,
        beforeUnallocatedUsd: before.unallocated.monthlyUsd,
        afterUnallocatedUsd: after.unallocated.monthlyUsd,
        tenants,
        servers,
        unpricedAfter: after.unpriced,
        warnings,
    };
}

/**
 * The cost part of a change preview: each tenant's monthly cost before and after, with the
 * reasons it moves. A tenant's cost is its share of its server plus its own resources
 * (src/cost/allocate.ts), so a tenant the PR does not touch changes too when a neighbour
 * arrives on its server: the reason says so.
 */
import type { CostReport, ServerCost, TenantCost } from "../cost/types";
import type { CostChange } from "./types";

/** Differences below half a cent are rounding (as in src/cost/diff.ts). */
const EPSILON_USD = 0.005;

export const usd = (value: number) => `${value < 0 ? "-" : ""}$${Math.abs(value).toFixed(2)}`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const moved = (before: number, after: number) => Math.abs(after - before) >= EPSILON_USD;

function serverOf(report: CostReport, name: string | undefined): ServerCost | undefined {
    return report.servers.find((server) => server.server === name);
}

function shareLine(report: CostReport, tenant: TenantCost): string {
    const server = serverOf(report, tenant.server);
    if (!server) return `no server cost allocated`;
    if (!server.priced)
        return `server ${server.server} is external and unpriced (tenantdb:cost.servers.${server.server}.monthlyUsd prices it)`;
    if (server.dedicatedTo) return `its dedicated server ${server.server}: ${usd(server.monthlyUsd)}`;
    return `${usd(tenant.serverShareUsd)} share of ${server.server} (${usd(server.monthlyUsd)}, ${plural(server.tenants.length, "tenant")})`;
}

function reasonsFor(before: CostReport, after: CostReport, b: TenantCost | undefined, a: TenantCost | undefined): string[] {
    if (!b && a) {
        const own = a.ownUsd > 0 ? [`${usd(a.ownUsd)} own resources (backup bucket, key, transfer)`] : [];
        return [`new tenant on ${a.server ?? "no server"} (${a.plan ?? "standard"})`, shareLine(after, a), ...own];
    }
    if (b && !a) return ["no longer declared: its cost ends"];
    if (!b || !a) return [];
    const reasons: string[] = [];
    if (b.plan !== a.plan) reasons.push(`plan ${b.plan} -> ${a.plan}`);
    if (b.server !== a.server) reasons.push(`server ${b.server} -> ${a.server}`);
    else {
        const [was, now] = [serverOf(before, b.server), serverOf(after, a.server)];
        // An unpriced server's share is $0 however many share it: not a reason.
        if (was && now && now.priced && was.tenants.length !== now.tenants.length)
            reasons.push(`${now.server} shared by ${plural(now.tenants.length, "tenant")} instead of ${was.tenants.length}`);
        if (was && now && moved(was.monthlyUsd, now.monthlyUsd))
            reasons.push(`${now.server} costs ${usd(now.monthlyUsd)} a month instead of ${usd(was.monthlyUsd)}`);
    }
    if (b.sizeGb !== a.sizeGb) reasons.push(`expected size ${b.sizeGb} GB -> ${a.sizeGb} GB`);
    if (moved(b.ownUsd, a.ownUsd)) reasons.push(`own resources ${usd(b.ownUsd)} -> ${usd(a.ownUsd)}`);
    if (reasons.length === 0 && moved(b.monthlyUsd, a.monthlyUsd)) reasons.push("the allocation of its server's cost changed");
    return reasons.length > 0 ? reasons : ["no change"];
}

/** Per tenant id (in either report), its cost change and the reasons. */
export function costChanges(before: CostReport, after: CostReport): Map<string, CostChange> {
    const ids = [...new Set([...before.tenants, ...after.tenants].map((t) => t.tenant))].sort();
    return new Map(
        ids.map((id) => {
            const b = before.tenants.find((t) => t.tenant === id);
            const a = after.tenants.find((t) => t.tenant === id);
            const [beforeUsd, afterUsd] = [b?.monthlyUsd ?? 0, a?.monthlyUsd ?? 0];
            return [id, { beforeUsd, afterUsd, deltaUsd: afterUsd - beforeUsd, reasons: reasonsFor(before, after, b, a) }];
        }),
    );
}

export function costMoved(change: CostChange): boolean {
    return moved(change.beforeUsd, change.afterUsd);
}

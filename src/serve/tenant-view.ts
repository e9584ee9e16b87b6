/**
 * GET /v1/tenants/{id}: a tenant as the portal shows it, composed from the stack file (state,
 * plan, server, cell), the tenant database (schema version: its newest applied migration), the
 * backup inventory (newest backup and its age) and the offline cost model (monthly cost). Each
 * part that cannot be read is null with the reason, and the rest is still answered.
 */
import { BackupInventory, listBackups, selectTenants } from "../backup";
import { fleetHistory } from "../migrate/history";
import { targetsFromStackOutputs } from "../migrate/targets";
import type { DeployedOutputsCache } from "./deployed-cache";
import type { TenantView } from "./schemas";
import type { ServeTarget } from "./target";
import type { CostReports } from "./tenant-cost";

type Part<T> = { value: T; reason: null } | { value: null; reason: string };

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export interface TenantViewSources {
    readonly target: ServeTarget;
    readonly deployed: DeployedOutputsCache;
    readonly costs: CostReports;
    readonly inventory?: BackupInventory;
}

export async function tenantView(sources: TenantViewSources, stack: string, tenantId: string): Promise<TenantView> {
    const detail = sources.target.client.show(stack, tenantId);
    const [schemaVersion, newestBackup, monthlyCost] = await Promise.all([
        schemaVersionOf(sources, stack, tenantId, detail.state),
        newestBackupOf(sources, tenantId),
        monthlyCostOf(sources, stack, tenantId),
    ]);
    return {
        id: detail.id,
        plan: detail.plan,
        state: detail.state,
        since: detail.since ?? null,
        server: detail.server,
        serverKind: detail.serverKind,
        stack,
        cell: sources.target.isFleet ? stack : null,
        connectionLimit: detail.connectionLimit,
        backupRetentionDays: detail.backupRetentionDays,
        schemaVersion,
        newestBackup,
        monthlyCost,
    };
}

async function schemaVersionOf(sources: TenantViewSources, stack: string, tenantId: string, state: string): Promise<Part<string | null>> {
    if (state !== "active") return { value: null, reason: `the tenant is ${state}: its logins are off, so its database is not read` };
    try {
        const target = targetsFromStackOutputs(await sources.deployed.get(stack)).find((t) => t.tenantId === tenantId);
        if (!target) return { value: null, reason: `tenant ${tenantId} is not deployed in stack ${stack} yet` };
        const [history] = await fleetHistory([target], { concurrency: 1, connectionTimeoutMs: 5000 });
        if (history.error) return { value: null, reason: history.error };
        return { value: history.migrations.at(-1)?.name ?? null, reason: null };
    } catch (error) {
        return { value: null, reason: reasonOf(error) };
    }
}

async function newestBackupOf(
    sources: TenantViewSources,
    tenantId: string,
): Promise<Part<{ key: string; startedAt: string; ageHours: number } | null>> {
    if (!sources.inventory) return { value: null, reason: "the service was started without --backup-config, so backups are not listed" };
    try {
        const [listing] = await listBackups(selectTenants(sources.inventory, [tenantId]));
        if (listing.error) return { value: null, reason: listing.error.message };
        const newest = listing.newest;
        return {
            value: newest
                ? { key: newest.key, startedAt: newest.startedAt.toISOString(), ageHours: Math.round(newest.ageHours * 100) / 100 }
                : null,
            reason: null,
        };
    } catch (error) {
        return { value: null, reason: reasonOf(error) };
    }
}

async function monthlyCostOf(
    sources: TenantViewSources,
    stack: string,
    tenantId: string,
): Promise<Part<{ monthlyUsd: number; worstCaseMonthlyUsd: number; serverPriced: boolean }>> {
    try {
        const row = (await sources.costs.report(stack)).tenants.find((t) => t.tenant === tenantId);
        if (!row)
            return { value: null, reason: `the cost model of stack ${stack} has no tenant ${tenantId} (erased tenants cost nothing)` };
        const cents = (usd: number) => Math.round(usd * 100) / 100;
        return {
            value: {
                monthlyUsd: cents(row.monthlyUsd),
                worstCaseMonthlyUsd: cents(row.worstCaseMonthlyUsd),
                serverPriced: row.serverPriced,
            },
            reason: null,
        };
    } catch (error) {
        return { value: null, reason: reasonOf(error) };
    }
}

/**
 * What the cost preview assumes about usage it cannot see in the graph: database sizes,
 * change rate, data transfer, and how a shared server's cost is split.
 *
 * The values come from stack config `tenantdb:cost` (validated by the program's schema) and
 * each tenant's optional `expectedSizeGb`; defaults are applied here, with `??`.
 */
import type { StackModel } from "../config/model";
import { CostError } from "./errors";
import { AllocationRule, CostAssumptions, CostAssumptionsInput, CostPlacement, PlacedServer } from "./types";

export const ALLOCATION_RULES: readonly AllocationRule[] = ["equal", "storage", "connections"];

export const DEFAULT_ASSUMPTIONS: CostAssumptions = Object.freeze({
    region: "us-east-1",
    databaseSizeGb: 1,
    dailyChangeRate: 0.05,
    transferGbPerTenant: 10,
    allocation: "equal",
    tenantSizesGb: Object.freeze({}),
    dumpCompressionRatio: 0.25,
    kmsRequestsPerKeyMonth: 10_000,
});

/** Applies defaults and checks ranges; every error names the `tenantdb:cost` field and the fix. */
export function resolveAssumptions(input: CostAssumptionsInput = {}): CostAssumptions {
    const resolved: CostAssumptions = {
        region: input.region ?? DEFAULT_ASSUMPTIONS.region,
        databaseSizeGb: input.databaseSizeGb ?? DEFAULT_ASSUMPTIONS.databaseSizeGb,
        dailyChangeRate: input.dailyChangeRate ?? DEFAULT_ASSUMPTIONS.dailyChangeRate,
        transferGbPerTenant: input.transferGbPerTenant ?? DEFAULT_ASSUMPTIONS.transferGbPerTenant,
        allocation: input.allocation ?? DEFAULT_ASSUMPTIONS.allocation,
        tenantSizesGb: { ...(input.tenantSizesGb ?? {}) },
        dumpCompressionRatio: input.dumpCompressionRatio ?? DEFAULT_ASSUMPTIONS.dumpCompressionRatio,
        kmsRequestsPerKeyMonth: input.kmsRequestsPerKeyMonth ?? DEFAULT_ASSUMPTIONS.kmsRequestsPerKeyMonth,
        ...(input.placement ? { placement: input.placement } : {}),
    };
    const problems: string[] = [];
    const nonNegative = (field: string, value: number) => {
        if (!Number.isFinite(value) || value < 0) problems.push(`tenantdb:cost.${field} is ${value}; set it to a number >= 0`);
    };
    if (typeof resolved.region !== "string" || resolved.region.trim() === "") {
        problems.push(`tenantdb:cost.region is empty; set it to an AWS region such as "us-east-1"`);
    }
    nonNegative("databaseSizeGb", resolved.databaseSizeGb);
    nonNegative("transferGbPerTenant", resolved.transferGbPerTenant);
    nonNegative("kmsRequestsPerKeyMonth", resolved.kmsRequestsPerKeyMonth);
    if (!Number.isFinite(resolved.dailyChangeRate) || resolved.dailyChangeRate < 0 || resolved.dailyChangeRate > 1) {
        problems.push(
            `tenantdb:cost.dailyChangeRate is ${resolved.dailyChangeRate}; set it to a fraction between 0 and 1 (0.05 means 5% a day)`,
        );
    }
    if (!Number.isFinite(resolved.dumpCompressionRatio) || resolved.dumpCompressionRatio <= 0 || resolved.dumpCompressionRatio > 1) {
        problems.push(
            `tenantdb:cost.dumpCompressionRatio is ${resolved.dumpCompressionRatio}; set it to a fraction in (0, 1] (0.25 means a dump is a quarter of the database)`,
        );
    }
    if (!ALLOCATION_RULES.includes(resolved.allocation)) {
        problems.push(
            `tenantdb:cost.allocation is "${String(resolved.allocation)}"; use one of ${ALLOCATION_RULES.map((r) => `"${r}"`).join(", ")}`,
        );
    }
    for (const [tenant, size] of Object.entries(resolved.tenantSizesGb)) {
        if (typeof size !== "number" || !Number.isFinite(size) || size < 0) {
            problems.push(
                `tenant "${tenant}": expectedSizeGb is ${String(size)}; set it to a number >= 0 or remove it to use tenantdb:cost.databaseSizeGb`,
            );
        }
    }
    if (problems.length > 0) throw new CostError(`Invalid cost assumptions:\n  - ${problems.join("\n  - ")}`);
    return resolved;
}

/** Database size of one tenant: its `expectedSizeGb`, else `databaseSizeGb`. */
export function tenantSizeGb(assumptions: CostAssumptions, tenantId: string): number {
    return assumptions.tenantSizesGb[tenantId] ?? assumptions.databaseSizeGb;
}

/**
 * The assumptions of a stack: `tenantdb:cost` and each tenant's `expectedSizeGb`, from the
 * stack model (validated by the program's own schema), with defaults for the rest.
 */
export function assumptionsFromModel(model: StackModel): CostAssumptions {
    const tenantSizesGb: Record<string, number> = {};
    for (const tenant of model.tenants) if (tenant.expectedSizeGb !== undefined) tenantSizesGb[tenant.id] = tenant.expectedSizeGb;
    const { servers: serverPrices, ...cost } = model.cost;
    return resolveAssumptions({ ...cost, tenantSizesGb, placement: placementFromModel(model, serverPrices) });
}

/**
 * Placement from the stack model: each tenant's server and plan, each server's kind. Monthly prices
 * of external servers come from `tenantdb:cost.servers.<name>.monthlyUsd`; a name there that is not
 * an external server of the stack is refused, naming the ones that are.
 */
export function placementFromModel(model: StackModel, serverPrices: Readonly<Record<string, { monthlyUsd: number }>> = {}): CostPlacement {
    const external = [...model.servers.values()].filter((s) => s.kind === "external").map((s) => s.name);
    const problems: string[] = [];
    for (const name of Object.keys(serverPrices)) {
        const server = model.servers.get(name);
        if (server?.kind === "external") continue;
        problems.push(
            `tenantdb:cost.servers.${name}: ` +
                (server
                    ? `${name} is an RDS server, priced from the prices file; remove it from tenantdb:cost.servers`
                    : `no server ${name} in tenantdb:servers`) +
                ` (external servers: ${external.length > 0 ? external.join(", ") : "none"})`,
        );
    }
    if (problems.length > 0) throw new CostError(`Invalid cost assumptions:\n  - ${problems.join("\n  - ")}`);
    const servers: Record<string, PlacedServer> = {};
    for (const server of model.servers.values()) {
        const monthlyUsd = serverPrices[server.name]?.monthlyUsd;
        servers[server.name] = {
            kind: server.kind,
            ...(server.dedicatedTo ? { dedicatedTo: server.dedicatedTo } : {}),
            ...(monthlyUsd !== undefined ? { monthlyUsd } : {}),
        };
    }
    const tenants: Record<string, { server: string; plan: string }> = {};
    for (const tenant of model.tenants) tenants[tenant.id] = { server: tenant.server, plan: tenant.plan };
    return { servers, tenants };
}

/**
 * What a tenant needs, computed from its migrations table and the local catalog alone:
 * the pure core of the runner, so the no-op path is one query and a comparison.
 */
import { NoDownMigrationError } from "./runner-errors";
import type { AppliedMigration } from "./types";

export interface PlannedMigration {
    readonly name: string;
    readonly checksum: string;
    readonly hasDown: boolean;
}

export type Drift =
    | { readonly name: string; readonly kind: "changed"; readonly applied: string; readonly local: string }
    | { readonly name: string; readonly kind: "missing-locally" };

export interface TenantPlan {
    /** Name of the last applied migration, or null for an empty database. */
    readonly version: string | null;
    /** Local migrations not applied yet, in order (all of them, whatever the target). */
    readonly pending: readonly string[];
    readonly drift: readonly Drift[];
    /** What this run would apply (up) or revert (down, newest first). */
    readonly toApply: readonly string[];
    readonly toRevert: readonly string[];
    /** The version the tenant would be at afterwards. */
    readonly target: string | null;
}

export class PlanError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PlanError";
    }
}

export type PlanRequest = { readonly mode: "up" | "status"; readonly to?: string } | { readonly mode: "down"; readonly to?: string };

/**
 * Whether a run may touch migration `name`: going up, those up to and including `to`; going
 * down, those after it ("0": all). The umzug of a run sees only these migrations.
 */
export function withinTarget(request: PlanRequest, name: string): boolean {
    if (request.to === undefined) return true;
    return request.mode === "down" ? request.to === "0" || name > request.to : name <= request.to;
}

/**
 * Compares applied migrations with the local ones. `to` for up: apply up to and including it.
 * `to` for down: revert everything after it (it stays applied); "0" reverts everything;
 * without `to`, down reverts the last applied migration only.
 */
export function planTenant(local: readonly PlannedMigration[], applied: readonly AppliedMigration[], request: PlanRequest): TenantPlan {
    const localByName = new Map(local.map((m) => [m.name, m]));
    const appliedNames = new Set(applied.map((m) => m.name));
    const drift: Drift[] = [];
    for (const row of applied) {
        const mine = localByName.get(row.name);
        if (!mine) drift.push({ name: row.name, kind: "missing-locally" });
        else if (mine.checksum !== row.checksum)
            drift.push({ name: row.name, kind: "changed", applied: row.checksum, local: mine.checksum });
    }
    const appliedInOrder = [...applied].map((m) => m.name).sort();
    const version = appliedInOrder.at(-1) ?? null;
    const pending = local.filter((m) => !appliedNames.has(m.name)).map((m) => m.name);

    if (request.to !== undefined && request.to !== "0" && !localByName.has(request.to) && !appliedNames.has(request.to)) {
        throw new PlanError(`--to ${request.to} names no migration (known: ${local.map((m) => m.name).join(", ")})`);
    }

    if (request.mode === "down") {
        if (request.to !== undefined && request.to !== "0" && !appliedNames.has(request.to)) {
            throw new PlanError(`cannot go down to ${request.to}: it is not applied`);
        }
        const toRevert =
            request.to === undefined ? appliedInOrder.slice(-1) : appliedInOrder.filter((name) => withinTarget(request, name)).reverse();
        // In the plan, not only in the run: a dry run must refuse what the real run refuses.
        const irreversible = toRevert.find((name) => localByName.get(name)?.hasDown === false);
        if (irreversible) throw new NoDownMigrationError(irreversible);
        const kept = appliedInOrder.filter((name) => !toRevert.includes(name));
        return { version, pending, drift, toApply: [], toRevert, target: kept.at(-1) ?? null };
    }

    const toApply = pending.filter((name) => withinTarget(request, name));
    const all = [...appliedInOrder, ...toApply].sort();
    return { version, pending, drift, toApply, toRevert: [], target: all.at(-1) ?? null };
}

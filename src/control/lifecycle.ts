/**
 * The tenant lifecycle as rules: which transition each operation makes, and what it needs.
 * What each state means on the server is declared by the program (components/tenant-database.ts);
 * this only decides whether a transition may happen now.
 *
 *   operation  from       to        requires
 *   suspend    active     suspended a verified final backup (taken by the operation)
 *   resume     suspended  active    -
 *   retire     suspended  retired   the tenant's backup retention since its suspension, or an override naming it
 *   retire     retired    erased    (the second step of retire; re-run after an interrupted retire)
 */
import { ResolvedTenant } from "../config/model";
import { TenantState } from "../config/schema";
import { InvalidRequestError } from "./errors";

export type LifecycleOperation = "suspend" | "resume" | "retire";

const DAY_MS = 86_400_000;

/** The state `operation` moves a tenant in `from` to, or an InvalidRequestError naming what is allowed. */
export function nextState(tenant: ResolvedTenant, operation: LifecycleOperation): TenantState {
    const moves: Record<LifecycleOperation, Partial<Record<TenantState, TenantState>>> = {
        suspend: { active: "suspended" },
        resume: { suspended: "active" },
        retire: { suspended: "retired", retired: "erased" },
    };
    const to = moves[operation][tenant.state];
    if (to) return to;
    const from = Object.keys(moves[operation]).join(" or ");
    throw new InvalidRequestError("state", `tenant ${tenant.id} is ${tenant.state}; ${operation} applies to a tenant that is ${from}`);
}

/** When the tenant was last suspended, from its history. */
export function suspendedAt(tenant: ResolvedTenant): Date | undefined {
    const suspension = tenant.history.findLast((transition) => transition.state === "suspended");
    return suspension ? new Date(suspension.at) : undefined;
}

/**
 * Retiring erases the tenant's backups (its KMS key is deleted), so it waits until they have
 * served their retention: `backupRetentionDays` since the suspension. `override` must be the
 * tenant's own id, so a retire of the wrong tenant cannot be forced by a generic flag.
 */
export function checkRetirement(tenant: ResolvedTenant, now: Date, override?: string): void {
    if (override !== undefined) {
        if (override === tenant.id) return;
        throw new InvalidRequestError(
            "overrideRetention",
            `names ${JSON.stringify(override)}, not the tenant being retired (${tenant.id}); pass its id to confirm`,
        );
    }
    const since = suspendedAt(tenant);
    if (!since) throw new InvalidRequestError("state", `tenant ${tenant.id} has no recorded suspension; suspend it first`);
    const allowedFrom = new Date(since.getTime() + tenant.backupRetentionDays * DAY_MS);
    if (now < allowedFrom) {
        throw new InvalidRequestError(
            "overrideRetention",
            `tenant ${tenant.id} was suspended at ${since.toISOString()}; its backups are kept ${tenant.backupRetentionDays} days, so it can retire from ` +
                `${allowedFrom.toISOString()}. To erase it sooner (a GDPR erasure request), pass overrideRetention: "${tenant.id}"`,
        );
    }
}

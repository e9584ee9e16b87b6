/**
 * The change preview (change-preview.ts): what merging a change to a stack would do, per tenant:
 * its infrastructure steps from a real `pulumi preview`, the migrations that would run on it, and
 * its monthly cost before and after. Plain JSON, for a PR comment, a CI gate and a portal page.
 * Never holds a secret: resource inputs and outputs are not copied, only property names.
 */

/** A step the engine would take on one resource (`same` steps are counted, not listed). */
export type StepOp = "create" | "update" | "replace" | "delete";

export interface ResourceStep {
    readonly op: StepOp;
    /** Pulumi type token, e.g. `postgresql:index/database:Database`. */
    readonly type: string;
    /** Logical name, e.g. `tenant-acme-database`. */
    readonly name: string;
    /** Properties that differ (update), or that force the replacement (replace). */
    readonly properties: readonly string[];
    /** The resource is protected in the state: the engine refuses to replace or delete it. */
    readonly protected: boolean;
    /** Why this step cannot go ahead, when it cannot (a protected replace or delete). */
    readonly blocked?: string;
}

export interface InfrastructureChange {
    readonly counts: Readonly<Record<StepOp | "same", number>>;
    /** The steps other than `same`, in the engine's order. */
    readonly steps: readonly ResourceStep[];
}

export interface RefusedMigration {
    readonly migration: string;
    /** What the runner would refuse it for, with the fix. */
    readonly reason: string;
}

export interface MigrationChange {
    /**
     * `pending`: migrations would run; `up-to-date`; `new`: a tenant not deployed yet, which gets
     * every migration; `not-migrated`: a tenant the runner leaves alone (suspended, retired);
     * `unknown`: its database could not be read (the reason says why).
     */
    readonly status: "pending" | "up-to-date" | "new" | "not-migrated" | "unknown";
    /** Its version now (last applied migration), when read. */
    readonly version?: string | null;
    /** Migrations that would run, in order. */
    readonly pending: readonly string[];
    /** Migration files the runner would refuse (transaction control, unreadable SQL, checksum drift). */
    readonly refused: readonly RefusedMigration[];
    readonly reason?: string;
}

export interface CostChange {
    readonly beforeUsd: number;
    readonly afterUsd: number;
    readonly deltaUsd: number;
    /** Why it changes (or not): one line per cause. */
    readonly reasons: readonly string[];
}

export interface TenantChange {
    readonly tenantId: string;
    /** Its state in the proposed stack file (undefined when the change removes it). */
    readonly state?: string;
    readonly server?: string;
    readonly infrastructure: InfrastructureChange;
    readonly migrations: MigrationChange;
    readonly cost: CostChange;
    /** What stops this tenant's change from going ahead; empty when nothing does. */
    readonly blocked: readonly string[];
}

export interface ChangePreview {
    readonly stack: string;
    /** What the change is compared with: a git ref, or `current stack file`. */
    readonly base: string;
    /** True when anything is blocked: a merge (or the portal action) would fail or lose data. */
    readonly blocked: boolean;
    /** Tenants the change touches in any way (infrastructure, migrations, cost), by id. */
    readonly tenants: readonly TenantChange[];
    /** Tenants with no change at all, by id. */
    readonly unchanged: readonly string[];
    /** Resources outside any tenant (servers, providers). */
    readonly stackResources: InfrastructureChange;
    readonly cost: { readonly beforeUsd: number; readonly afterUsd: number; readonly deltaUsd: number; readonly prices: string };
    /** Stack-wide problems: the program refused the config, the engine failed, a file could not be read. */
    readonly problems: readonly string[];
}

/** What a portal asks to preview: one control API call, not yet made. */
export type ProposedChange =
    | { readonly action: "provision"; readonly tenant: unknown }
    | { readonly action: "suspend" | "resume" | "retire"; readonly tenantId: string };

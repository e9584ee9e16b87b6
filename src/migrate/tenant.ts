/**
 * Migrates one tenant database over one connection: read the migrations table, compare it
 * with the local catalog (the whole no-op path: one query), and only when there is work,
 * take the tenant's advisory lock, check again, and let umzug run the migrations, each in
 * its own transaction together with its bookkeeping row (see storage.ts).
 */
import type { ClientBase } from "pg";
import type { Catalog, LocalMigration } from "./catalog";
import type { Step } from "./errors";
import { MigrationDriftError, NoDownMigrationError } from "./runner-errors";
import { fingerprintOf } from "./fingerprint";
import { acquireLock, LockOptions, releaseLock, tryLock } from "./lock";
import { migrateWithUmzug } from "./migrator";
import { Drift, PlanRequest, planTenant, TenantPlan } from "./plan";
import { MigrationsTable } from "./storage";
import type { AppliedMigration, SeedInput } from "./types";

export type Mode = "up" | "down" | "status" | "repair";
export type Outcome = "ok" | "up-to-date" | "pending" | "drift" | "skipped" | "failed";

export interface TenantResult {
    readonly tenantId: string;
    readonly server: string;
    readonly database: string;
    readonly outcome: Outcome;
    /** Version before the run (last applied migration), null for an empty database. */
    readonly from: string | null;
    /** Version after the run (or after the plan, for status and dry runs). */
    readonly to: string | null;
    readonly applied: readonly string[];
    readonly reverted: readonly string[];
    readonly pending: readonly string[];
    readonly drift: readonly Drift[];
    readonly durationMs: number;
    /** What happened, for outcomes that need words (skipped, dry run, waited for a lock). */
    readonly message?: string;
    /** Why it failed: names the tenant, server, step and the fix. */
    readonly error?: string;
    /** Dry runs: the migrations this run would apply (up) or revert (down, newest first), in order. */
    readonly planned?: readonly string[];
    /** "fingerprint": found up to date from the server's catalog, without connecting to the tenant. */
    readonly via?: "fingerprint";
}

export interface TenantRunOptions {
    readonly mode: Mode;
    readonly to?: string;
    readonly dryRun?: boolean;
    readonly seed?: SeedInput;
    /** When another runner holds the tenant's lock: wait up to timeoutMs, or skip at once. */
    readonly lock: LockOptions;
    /** The database comment the fleet read (see fingerprint.ts); refreshed by `up` when stale. */
    readonly storedFingerprint?: string | null;
}

/** Where the run is, so a failure can name the step, the migration file and the line. */
export interface RunCursor {
    step: Step;
    /** Version before the run and the version reached so far (committed), once known. */
    from?: string | null;
    reached?: string | null;
    /** Migrations committed by this run so far (up) or reverted (down). */
    applied?: string[];
    reverted?: string[];
    migration?: LocalMigration;
    sql?: string;
    sqlOffset?: number;
    line?: number;
}

type Partial = Omit<TenantResult, "tenantId" | "server" | "database" | "durationMs">;

/**
 * Rewrites a stale or missing fingerprint of an up-to-date tenant (databases migrated by
 * hand or restored). Under the lock, so it cannot overwrite a concurrent runner's newer one;
 * when the lock is busy, that runner writes a fresh fingerprint itself.
 */
async function refreshFingerprint(client: ClientBase, storage: MigrationsTable): Promise<void> {
    if (!(await tryLock(client))) return;
    try {
        await storage.refreshFingerprint();
    } finally {
        await releaseLock(client);
    }
}

function outcomeOf(plan: TenantPlan, mode: Mode): Outcome {
    if (plan.drift.length > 0) return "drift";
    if (mode === "down") return plan.toRevert.length ? "pending" : "up-to-date";
    return plan.toApply.length ? "pending" : "up-to-date";
}

/**
 * Runs one tenant. Throws (with `cursor` telling where) on failure; the caller turns that
 * into a per-tenant error. The connection must already act as the tenant's owner role.
 */
export async function runTenant(
    client: ClientBase,
    catalog: Catalog,
    options: TenantRunOptions,
    tenantId: string,
    cursor: RunCursor,
): Promise<Partial> {
    const request: PlanRequest = options.mode === "down" ? { mode: "down", to: options.to } : { mode: "up", to: options.to };
    const plan = (applied: AppliedMigration[]) => {
        cursor.step = "plan";
        return planTenant(catalog.migrations, applied, request);
    };
    const storage = new MigrationsTable(client, catalog);
    cursor.step = "read state";
    const appliedBefore = await storage.read();
    const before = plan(appliedBefore);
    cursor.from = cursor.reached = before.version;
    const base = { from: before.version, applied: [], reverted: [], pending: before.pending, drift: before.drift };

    if (options.mode === "status") return { ...base, outcome: outcomeOf(before, "up"), to: before.version };
    if (options.mode === "repair") {
        if (before.drift.length === 0) return { ...base, outcome: "up-to-date", to: before.version, message: "no drift to repair" };
        if (options.dryRun)
            return { ...base, outcome: "drift", to: before.version, message: `would repair ${before.drift.map((d) => d.name).join(", ")}` };
    } else {
        if (before.drift.length > 0) throw MigrationDriftError.of(before.drift);
        const work = options.mode === "down" ? before.toRevert : before.toApply;
        if (work.length === 0) {
            const stale = appliedBefore.length > 0 && options.storedFingerprint !== fingerprintOf(appliedBefore);
            if (options.mode === "up" && !options.dryRun && stale) await refreshFingerprint(client, storage);
            return { ...base, outcome: "up-to-date", to: before.version };
        }
        if (options.dryRun) {
            const verb = options.mode === "down" ? "would revert" : "would apply";
            return { ...base, outcome: "pending", to: before.target, message: `${verb} ${work.join(", ")}`, planned: [...work] };
        }
    }

    cursor.step = "lock";
    const busy = await acquireLock(client, options.lock);
    if (busy) return { ...base, outcome: "skipped", to: before.version, message: busy };
    try {
        await storage.ensureTable();
        cursor.step = "read state";
        const current = plan(await storage.read());
        cursor.reached = current.version;
        if (options.mode === "repair") {
            return { ...base, ...(await repair(storage, current.drift, cursor)), to: current.version, pending: current.pending };
        }
        if (current.drift.length > 0) throw MigrationDriftError.of(current.drift);
        const waited = current.version !== before.version ? "another runner migrated it meanwhile" : undefined;
        const work = options.mode === "down" ? current.toRevert : current.toApply;
        if (work.length === 0) return { ...base, outcome: "up-to-date", from: current.version, to: current.version, message: waited };
        // Checked before anything runs, so a down that cannot finish reverts nothing.
        const hasDown = new Map(catalog.migrations.map((m) => [m.name, m.hasDown]));
        const irreversible = current.toRevert.find((name) => !hasDown.get(name));
        if (irreversible) throw new NoDownMigrationError(irreversible);

        const done = await migrateWithUmzug({ catalog, request, storage, context: { client, tenantId, seed: options.seed }, cursor });
        const result = options.mode === "down" ? { applied: [], reverted: done } : { applied: done, reverted: [] };
        const remaining = options.mode === "down" ? current.pending.concat(done) : current.pending.filter((n) => !done.includes(n));
        return { ...base, ...result, from: current.version, outcome: "ok", to: current.target, pending: remaining.sort(), message: waited };
    } finally {
        await releaseLock(client).catch(() => undefined);
    }
}

/** Accepts the local files: realigns changed checksums, forgets rows of deleted files. */
async function repair(
    storage: MigrationsTable,
    drift: readonly Drift[],
    cursor: RunCursor,
): Promise<{ outcome: Outcome; message: string; drift: Drift[] }> {
    cursor.step = "repair";
    await storage.acceptLocal(drift);
    if (drift.length === 0) return { outcome: "up-to-date", message: "no drift to repair", drift: [] };
    return { outcome: "ok", message: `repaired ${drift.map((d) => `${d.name} (${d.kind})`).join(", ")}`, drift: [] };
}

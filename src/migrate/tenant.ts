/**
 * Migrates one tenant database over one connection: read the migrations table, compare it
 * with the local catalog (the whole no-op path: one query), and only when there is work,
 * take the tenant's advisory lock and let umzug run the plan, each migration in its own
 * transaction together with its bookkeeping row.
 */
import { ClientBase } from "pg";
import { quoteIdentifier as ident, quoteLiteral as literal } from "../shared/sql";
import { Umzug } from "umzug";
import { MIGRATIONS_SCHEMA } from "../naming";
import type { Catalog, LocalMigration } from "./catalog";
import { describeDrift, Drift, planTenant, TenantPlan } from "./plan";
import type { AppliedMigration, SeedInput } from "./types";
import type { Step } from "./errors";
import { fingerprintOf, setFingerprintSql } from "./fingerprint";

/**
 * Key of the per-database advisory lock every runner takes before changing a tenant.
 * Advisory locks are scoped to the database, so one constant serves every tenant.
 */
export const MIGRATION_LOCK_KEY = "7301880251";

const TABLE = `${ident(MIGRATIONS_SCHEMA)}.migrations`;

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
    /** "fingerprint": found up to date from the server's catalog, without connecting to the tenant. */
    readonly via?: "fingerprint";
}

export interface TenantRunOptions {
    readonly mode: Mode;
    readonly to?: string;
    readonly dryRun?: boolean;
    readonly seed?: SeedInput;
    /** When another runner holds the tenant's lock: wait up to timeoutMs, or skip at once. */
    readonly lock: { readonly onBusy: "wait" | "skip"; readonly timeoutMs: number };
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

export async function readApplied(client: ClientBase): Promise<AppliedMigration[]> {
    try {
        const { rows } = await client.query<AppliedMigration>(`SELECT name, checksum FROM ${TABLE} ORDER BY name`);
        return rows;
    } catch (error) {
        // No table yet: a database no runner has touched.
        if ((error as { code?: string }).code === "42P01") return [];
        throw error;
    }
}

async function ensureTable(client: ClientBase): Promise<void> {
    await client.query(
        `CREATE SCHEMA IF NOT EXISTS ${ident(MIGRATIONS_SCHEMA)};
         CREATE TABLE IF NOT EXISTS ${TABLE} (
             name        text PRIMARY KEY,
             checksum    text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now(),
             duration_ms integer NOT NULL,
             applied_by  text NOT NULL DEFAULT session_user
         )`,
    );
}

/** Tries the lock; if busy, waits (bounded) or gives up. Returns null when locked, else why not. */
async function acquireLock(client: ClientBase, options: TenantRunOptions["lock"]): Promise<string | null> {
    const tried = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS locked", [MIGRATION_LOCK_KEY]);
    if (tried.rows[0].locked) return null;
    const holder = await client.query<{ pid: number; application_name: string }>(
        `SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint LIMIT 1`,
        [MIGRATION_LOCK_KEY],
    );
    const who = holder.rows[0] ? `backend pid ${holder.rows[0].pid}${holder.rows[0].application_name ? ` (${holder.rows[0].application_name})` : ""}` : "another session";
    if (options.onBusy === "skip") return `another runner (${who}) is migrating this tenant; skipped it without waiting`;
    try {
        await client.query(`SET lock_timeout = ${literal(`${options.timeoutMs}ms`)}`);
        await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
        return null;
    } catch (error) {
        if ((error as { code?: string }).code === "55P03") {
            throw Object.assign(new Error(`another runner (${who}) held the migration lock for more than ${options.timeoutMs} ms`), {
                code: "LOCKED",
            });
        }
        throw error;
    } finally {
        await client.query("RESET lock_timeout");
    }
}

function settingsSql(migration: LocalMigration): string {
    return `BEGIN;\nSET LOCAL lock_timeout = ${literal(migration.lockTimeout)};\nSET LOCAL statement_timeout = ${literal(migration.statementTimeout)};\n`;
}

const elapsedMs = "(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer";

async function rollback(client: ClientBase): Promise<void> {
    await client.query("ROLLBACK").catch(() => undefined);
}

/** One migration, up or down, in one transaction with its bookkeeping row. */
async function runMigration(
    client: ClientBase,
    migration: LocalMigration,
    direction: "up" | "down",
    context: { tenantId: string; seed?: SeedInput; applied: AppliedMigration[] },
    cursor: RunCursor,
): Promise<void> {
    cursor.step = direction === "up" ? `apply ${migration.name}` : `revert ${migration.name}`;
    cursor.migration = migration;
    const after =
        direction === "up" ? [...context.applied, { name: migration.name, checksum: migration.checksum }] : context.applied.filter((m) => m.name !== migration.name);
    const row =
        direction === "up"
            ? `INSERT INTO ${TABLE} (name, checksum, duration_ms) VALUES (${literal(migration.name)}, ${literal(migration.checksum)}, ${elapsedMs});`
            : `DELETE FROM ${TABLE} WHERE name = ${literal(migration.name)};`;
    const bookkeeping = `${row}\n${setFingerprintSql(fingerprintOf(after))}`;
    const sql = direction === "up" ? migration.upSql : migration.downSql;
    try {
        if (sql !== undefined) {
            // One round trip: BEGIN, timeouts, the migration, its row, COMMIT. An error aborts
            // the rest of the message, and the transaction is rolled back below.
            const prefix = settingsSql(migration);
            cursor.sql = sql;
            cursor.sqlOffset = prefix.length;
            cursor.line = direction === "up" ? migration.upLine : migration.downLine;
            await client.query(`${prefix}${sql}\n;\n${bookkeeping}\nCOMMIT;`);
        } else {
            const code = migration.code!;
            const step = direction === "up" ? code.up : code.down;
            if (!step) throw new Error(`${migration.name} has no down migration`);
            cursor.sql = cursor.sqlOffset = cursor.line = undefined;
            await client.query(settingsSql(migration));
            await step.call(code, { client, tenantId: context.tenantId, seed: context.seed });
            await client.query(`${bookkeeping}\nCOMMIT;`);
        }
    } catch (error) {
        await rollback(client);
        throw error;
    }
    context.applied.splice(0, context.applied.length, ...after);
    cursor.reached = after.map((m) => m.name).sort().at(-1) ?? null;
    if (direction === "up") (cursor.applied ??= []).push(migration.name);
    else (cursor.reverted ??= []).push(migration.name);
}

/**
 * Rewrites a stale or missing fingerprint of an up-to-date tenant (databases migrated by
 * hand or restored). Under the lock, so it cannot overwrite a concurrent runner's newer one;
 * when the lock is busy, that runner writes a fresh fingerprint itself.
 */
async function refreshFingerprint(client: ClientBase): Promise<void> {
    const tried = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS locked", [MIGRATION_LOCK_KEY]);
    if (!tried.rows[0].locked) return;
    try {
        const applied = await readApplied(client);
        await client.query(setFingerprintSql(fingerprintOf(applied)));
    } finally {
        await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
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
export async function runTenant(client: ClientBase, catalog: Catalog, options: TenantRunOptions, tenantId: string, cursor: RunCursor): Promise<Partial> {
    cursor.step = "read state";
    const plan = (applied: AppliedMigration[]) => {
        cursor.step = "plan";
        return planTenant(catalog.migrations, applied, options.mode === "down" ? { mode: "down", to: options.to } : { mode: "up", to: options.to });
    };
    const appliedBefore = await readApplied(client);
    const before = plan(appliedBefore);
    cursor.from = cursor.reached = before.version;
    const base = { from: before.version, applied: [], reverted: [], pending: before.pending, drift: before.drift };

    if (options.mode === "status") return { ...base, outcome: outcomeOf(before, "up"), to: before.version };
    if (options.mode === "repair") {
        if (before.drift.length === 0) return { ...base, outcome: "up-to-date", to: before.version, message: "no drift to repair" };
        if (options.dryRun) return { ...base, outcome: "drift", to: before.version, message: `would repair ${before.drift.map((d) => d.name).join(", ")}` };
    } else {
        if (before.drift.length > 0) throw Object.assign(new Error(describeDrift(before.drift)), { code: "DRIFT" });
        const work = options.mode === "down" ? before.toRevert : before.toApply;
        if (work.length === 0) {
            if (options.mode === "up" && !options.dryRun && appliedBefore.length > 0 && options.storedFingerprint !== fingerprintOf(appliedBefore)) {
                await refreshFingerprint(client);
            }
            return { ...base, outcome: "up-to-date", to: before.version };
        }
        if (options.dryRun) {
            const verb = options.mode === "down" ? "would revert" : "would apply";
            return { ...base, outcome: "pending", to: before.target, message: `${verb} ${work.join(", ")}` };
        }
    }

    cursor.step = "lock";
    const busy = await acquireLock(client, options.lock);
    if (busy) return { ...base, outcome: "skipped", to: before.version, message: busy };
    try {
        await ensureTable(client);
        cursor.step = "read state";
        const applied = await readApplied(client);
        const current = plan(applied);
        cursor.reached = current.version;
        if (options.mode === "repair") return { ...base, ...(await repair(client, current.drift, cursor)), to: current.version, pending: current.pending };
        if (current.drift.length > 0) throw Object.assign(new Error(describeDrift(current.drift)), { code: "DRIFT" });
        const waited = current.version !== before.version ? "another runner migrated it meanwhile" : undefined;
        const work = options.mode === "down" ? current.toRevert : current.toApply;
        if (work.length === 0) return { ...base, outcome: "up-to-date", from: current.version, to: current.version, message: waited };
        const byName = new Map(catalog.migrations.map((m) => [m.name, m]));
        const irreversible = current.toRevert.find((name) => !byName.get(name)?.hasDown);
        if (irreversible) throw Object.assign(new Error(`${irreversible} has no down migration, so the tenant cannot go below it`), { code: "NO_DOWN" });

        const done: string[] = [];
        const context = { tenantId, seed: options.seed, applied: [...applied] };
        const umzug = new Umzug<object>({
            migrations: catalog.migrations.map((migration) => ({
                name: migration.name,
                path: migration.file,
                up: () => runMigration(client, migration, "up", context, cursor).then(() => done.push(migration.name)),
                down: migration.hasDown ? () => runMigration(client, migration, "down", context, cursor).then(() => done.push(migration.name)) : undefined,
            })),
            // The bookkeeping row is written inside each migration's transaction (above),
            // so umzug's storage only reads; logging again here would be a second commit.
            storage: { executed: async () => applied.map((m) => m.name), logMigration: async () => undefined, unlogMigration: async () => undefined },
            context: {},
            logger: undefined,
        });
        try {
            if (options.mode === "down") await umzug.down({ migrations: [...current.toRevert] });
            else await umzug.up({ migrations: [...current.toApply] });
        } catch (error) {
            // umzug wraps the failure in MigrationError; the original carries the SQLSTATE.
            throw (error as { cause?: unknown }).cause ?? error;
        }
        const result = options.mode === "down" ? { applied: [], reverted: done } : { applied: done, reverted: [] };
        const remaining = options.mode === "down" ? current.pending.concat(done) : current.pending.filter((n) => !done.includes(n));
        return { ...base, ...result, from: current.version, outcome: "ok", to: current.target, pending: remaining.sort(), message: waited };
    } finally {
        await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
}

/** Accepts the local files: realigns changed checksums, forgets rows of deleted files. */
async function repair(client: ClientBase, drift: readonly Drift[], cursor: RunCursor): Promise<{ outcome: Outcome; message: string; drift: Drift[] }> {
    cursor.step = "repair";
    await client.query("BEGIN");
    try {
        for (const d of drift) {
            if (d.kind === "changed") await client.query(`UPDATE ${TABLE} SET checksum = $2 WHERE name = $1`, [d.name, d.local]);
            else await client.query(`DELETE FROM ${TABLE} WHERE name = $1`, [d.name]);
        }
        await client.query(setFingerprintSql(fingerprintOf(await readApplied(client))));
        await client.query("COMMIT");
    } catch (error) {
        await rollback(client);
        throw error;
    }
    if (drift.length === 0) return { outcome: "up-to-date", message: "no drift to repair", drift: [] };
    return { outcome: "ok", message: `repaired ${drift.map((d) => `${d.name} (${d.kind})`).join(", ")}`, drift: [] };
}

/**
 * The per-tenant advisory lock every runner takes before changing a tenant, so two runners
 * (two CI jobs, a person and a job) never migrate the same database at once. umzug has no
 * lock of its own for PostgreSQL; a session-level advisory lock is freed by the server when
 * the runner's connection dies.
 */
import type { ClientBase } from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { quoteLiteral as literal } from "../shared/sql";
import { CONNECTIONS_TAKEN, MigrationLockedError, MigratorConnectionsBusyError } from "./runner-errors";

/**
 * Key of the per-database advisory lock. Advisory locks are scoped to the database, so one
 * constant serves every tenant.
 */
export const MIGRATION_LOCK_KEY = "7301880251";

/** What to do when another runner holds the lock: wait up to timeoutMs, or skip at once. */
export interface LockOptions {
    readonly onBusy: "wait" | "skip";
    readonly timeoutMs: number;
}

export async function tryLock(client: ClientBase): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS locked", [MIGRATION_LOCK_KEY]);
    return rows[0].locked;
}

export async function releaseLock(client: ClientBase): Promise<void> {
    await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
}

/** The backend that holds the lock, for messages: "backend pid 123 (tenantdb-migrate)". */
async function lockHolder(client: ClientBase): Promise<string> {
    const { rows } = await client.query<{ pid: number; application_name: string }>(
        `SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint LIMIT 1`,
        [MIGRATION_LOCK_KEY],
    );
    if (!rows[0]) return "another session";
    return `backend pid ${rows[0].pid}${rows[0].application_name ? ` (${rows[0].application_name})` : ""}`;
}

/**
 * Takes the lock; if busy, waits (bounded) or gives up. Returns null once locked, or why it
 * skipped the tenant; throws MigrationLockedError when the wait ran out.
 */
export async function acquireLock(client: ClientBase, options: LockOptions): Promise<string | null> {
    if (await tryLock(client)) return null;
    const holder = await lockHolder(client);
    if (options.onBusy === "skip") return `another runner (${holder}) is migrating this tenant; skipped it without waiting`;
    try {
        await client.query(`SET lock_timeout = ${literal(`${options.timeoutMs}ms`)}`);
        await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
        return null;
    } catch (error) {
        if ((error as { code?: string }).code === "55P03") throw new MigrationLockedError(holder, options.timeoutMs);
        throw error;
    } finally {
        await client.query("RESET lock_timeout");
    }
}

/**
 * True for a login refused because the role is at its CONNECTION LIMIT (53300 "too many
 * connections for role"), told apart from a database's limit and the server's max_connections
 * (also 53300) by the server function that raised it, which does not depend on lc_messages.
 */
export function isRoleConnectionLimit(error: unknown): boolean {
    const { code, routine, message } = (error ?? {}) as { code?: string; routine?: string; message?: string };
    return code === "53300" && (routine === "InitializeSessionUserId" || /too many connections for role/.test(message ?? ""));
}

/**
 * Logs in with `connect`, treating a migrator role at its connection limit like a busy lock:
 * other runners hold its connections (the limit is 2, capacity.ts), so this runner waits for
 * one within `timeoutMs`, retrying with backoff, or skips at once. Returns the connection's
 * result, or why it skipped; throws MigratorConnectionsBusyError when the wait ran out.
 */
export async function connectAsBusyLock<T>(
    connect: () => Promise<T>,
    role: string,
    options: LockOptions,
): Promise<{ connected: T } | { skipped: string }> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
        try {
            return { connected: await connect() };
        } catch (error) {
            if (!isRoleConnectionLimit(error)) throw error;
            if (options.onBusy === "skip")
                return { skipped: `role ${role} is at its connection limit (${CONNECTIONS_TAKEN}); skipped it without waiting` };
            const left = started + options.timeoutMs - Date.now();
            if (left <= 0) throw new MigratorConnectionsBusyError(role, options.timeoutMs);
            // 100 ms doubling to 2 s, with jitter so runners that wait together do not retry together.
            const backoff = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
            await sleep(Math.min(left, backoff));
        }
    }
}

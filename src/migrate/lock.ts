/**
 * The per-tenant advisory lock every runner takes before changing a tenant, so two runners
 * (two CI jobs, a person and a job) never migrate the same database at once. umzug has no
 * lock of its own for PostgreSQL; a session-level advisory lock is freed by the server when
 * the runner's connection dies.
 */
import type { ClientBase } from "pg";
import { quoteLiteral as literal } from "../shared/sql";
import { MigrationLockedError } from "./runner-errors";

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

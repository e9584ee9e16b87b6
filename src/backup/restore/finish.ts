/**
 * Phase 8: a drill drops what it verified; a restore switches it in, so the tenant always has a
 * database named erp_<id>. Either way the scratch database leaves the run's hands here.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe } from "../errors";
import { quoteIdentifier as ident, quoteLiteral } from "../../shared/sql";
import { BeforeRestoreRecord } from "./previous";
import { MovedAside, countMovedAside, movedAsideSentence } from "./moved-aside";
import { ServerSession } from "./context";
import { RestoreResult } from "./options";
import { dropDatabase } from "./scratch-database";
import { Verified } from "./verify";

export async function finishDrill(session: ServerSession, { restoreSeconds, warnings }: Verified): Promise<RestoreResult> {
    const { tenantId, key, manifest, scratch, admin, created } = session;
    await dropDatabase(admin, scratch);
    created.scratchDatabase = undefined;
    return { tenantId, key, manifest, database: scratch, restoreSeconds, warnings };
}

export async function switchIn(session: ServerSession, { restoreSeconds, warnings }: Verified): Promise<RestoreResult> {
    const { tenantId, key, manifest, names, databases, liveExists, log, created, server, scratch, fail } = session;
    let movedAside: MovedAside = {};
    if (liveExists) {
        try {
            movedAside = await countMovedAside({ server, live: names.database, restored: scratch });
            await sessionsEnded(session, scratch);
        } catch (error) {
            throw fail("database", "count rows moved aside", describe(error), "retry; the live database is unchanged.", error);
        }
    }
    await swap(session);
    created.scratchDatabase = undefined;
    const previousDatabase = liveExists ? databases.beforeRestore : undefined;
    if (previousDatabase) {
        await recordMovedAside(session, previousDatabase, movedAside);
        log(
            `${tenantId}: ${names.database} now holds backup ${key}; the previous database is kept as ${previousDatabase} ` +
                `(connections disabled). ${movedAsideSentence(movedAside)} ` +
                `Drop it with npm run backup -- drop-previous ${tenantId} ${previousDatabase}`,
        );
    } else {
        log(`${tenantId}: ${names.database} now holds backup ${key}`);
    }
    return { tenantId, key, manifest, database: names.database, previousDatabase, restoreSeconds, warnings, movedAside };
}

/**
 * Keeps the count with the copy, as its comment (a shared catalog: readable without
 * connecting, and the copy refuses connections), so drop-previous can show it.
 */
async function recordMovedAside(
    { admin, key, log, tenantId, options }: ServerSession,
    copy: string,
    movedAside: MovedAside,
): Promise<void> {
    const at = (options.now ?? (() => new Date()))().toISOString();
    const record: BeforeRestoreRecord = { tenantdb: "before-restore/1", replacedBy: key, at, movedAside };
    try {
        await admin.query(`COMMENT ON DATABASE ${ident(copy)} IS ${quoteLiteral(JSON.stringify(record))}`);
    } catch (error) {
        log(`${tenantId}: warning: could not record the moved-aside count on ${copy} (${describe(error)})`);
    }
}

/**
 * Closes the live database to new sessions, ends the open ones, and renames both databases
 * in one transaction. On failure the live database is reopened and keeps its name.
 */
async function swap(session: ServerSession): Promise<void> {
    const { admin, names, scratch, databases, liveExists, options, log } = session;
    const live = ident(names.database);
    if (!liveExists) {
        log(`${names.database}: there is no live database; the restored one takes its name`);
        await admin.query(`ALTER DATABASE ${ident(scratch)} RENAME TO ${live}`);
        return;
    }
    await admin.query(`ALTER DATABASE ${live} WITH ALLOW_CONNECTIONS false`);
    try {
        await endSessions(session, options.terminateTimeoutMs ?? 15_000);
        await admin.query("BEGIN");
        try {
            await admin.query(`ALTER DATABASE ${live} RENAME TO ${ident(databases.beforeRestore)}`);
            await admin.query(`ALTER DATABASE ${ident(scratch)} RENAME TO ${live}`);
            await admin.query("COMMIT");
        } catch (error) {
            await admin.query("ROLLBACK").catch(() => undefined);
            throw session.fail(
                "swap-failed",
                "rename databases",
                describe(error),
                "retry; the live database was reopened and is unchanged.",
                error,
            );
        }
    } catch (error) {
        await admin.query(`ALTER DATABASE ${live} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
        throw error;
    }
}

/** The count's sessions on `database` have ended: a rename needs none (a closed client's backend can take a moment to exit). */
async function sessionsEnded({ admin }: ServerSession, database: string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
        const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [database]);
        if (rows[0].n === 0) return;
        await sleep(50);
    }
}

/** Ends every other session on the live database, or fails once `timeoutMs` has passed. */
async function endSessions({ admin, names, log, fail }: ServerSession, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let terminated = 0;
    for (;;) {
        const { rows } = await admin.query<{ n: number }>(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 1000))::int AS n " +
                "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            [names.database],
        );
        terminated += rows[0].n;
        const { rows: left } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [
            names.database,
        ]);
        if (left[0].n === 0) break;
        if (Date.now() > deadline) {
            throw fail(
                "swap-failed",
                "terminate sessions",
                `${left[0].n} session(s) on ${names.database} did not end within ${timeoutMs} ms.`,
                "retry; the live database was reopened and is unchanged.",
            );
        }
        await sleep(100);
    }
    if (terminated > 0) log(`${names.database}: ended ${terminated} session(s)`);
}

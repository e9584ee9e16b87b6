/**
 * One tenant's umzug: the catalog's migrations in order, cut to the run's target; the
 * migrations table as its storage; and its events keeping the run's cursor (the step, the
 * migration, its SQL) so a failure can be reported with the file and line.
 */
import { MigrationError, MigrationMeta, Umzug } from "umzug";
import type { Catalog, LocalMigration } from "./catalog";
import { guardedClient } from "./guarded-client";
import { PlanRequest, withinTarget } from "./plan";
import { MigrationTransactionLostError, NoDownMigrationError } from "./runner-errors";
import { LOST_TRANSACTION_SQLSTATE } from "./runtime-guard";
import { MigrationsTable } from "./storage";
import type { RunCursor } from "./tenant";
import type { MigrationContext } from "./types";

/** What one tenant's umzug works with. */
export interface TenantMigrator {
    readonly catalog: Catalog;
    readonly request: PlanRequest;
    readonly storage: MigrationsTable;
    readonly context: MigrationContext;
    readonly cursor: RunCursor;
}

/** Opens the migration's transaction and runs its up or down in it; the storage's bookkeeping commits it. */
async function start(migration: LocalMigration, direction: "up" | "down", context: MigrationContext, run: TenantMigrator): Promise<void> {
    if (migration.code) {
        const step = direction === "up" ? migration.code.up : migration.code.down;
        if (!step) throw new NoDownMigrationError(migration.name);
        await run.storage.begin(migration);
        await step.call(migration.code, { ...context, client: guardedClient(context.client, migration.name) });
        return;
    }
    const sql = direction === "up" ? migration.upSql : migration.downSql;
    if (sql === undefined) throw new NoDownMigrationError(migration.name);
    run.cursor.sql = sql;
    // The SQL is a query of its own (see storage.begin): the server's error positions count from its start.
    run.cursor.sqlOffset = 0;
    run.cursor.line = direction === "up" ? migration.upLine : migration.downLine;
    await run.storage.begin(migration, sql);
}

function createUmzug(run: TenantMigrator): Umzug<MigrationContext> {
    const { cursor, storage } = run;
    const reachable = run.catalog.migrations.filter((migration) => withinTarget(run.request, migration.name));
    const umzug = new Umzug<MigrationContext>({
        migrations: reachable.map((migration) => ({
            name: migration.name,
            path: migration.file,
            up: ({ context }) => start(migration, "up", context, run),
            // Even without a down section: umzug would count a missing down as done and forget the migration.
            down: ({ context }) => start(migration, "down", context, run),
        })),
        storage,
        context: run.context,
        logger: undefined,
    });
    const byName = new Map(reachable.map((migration) => [migration.name, migration]));
    const enter = (step: RunCursor["step"], name: string) => {
        cursor.step = step;
        cursor.migration = byName.get(name);
        cursor.sql = cursor.sqlOffset = cursor.line = undefined;
    };
    umzug.on("migrating", ({ name }) => enter(`apply ${name}`, name));
    umzug.on("reverting", ({ name }) => enter(`revert ${name}`, name));
    umzug.on("migrated", ({ name }) => {
        (cursor.applied ??= []).push(name);
        cursor.reached = storage.version;
    });
    umzug.on("reverted", ({ name }) => {
        (cursor.reverted ??= []).push(name);
        cursor.reached = storage.version;
    });
    return umzug;
}

/**
 * The error to report for `error`, once the failed migration's transaction is rolled back: the
 * same, unless the migration had ended that transaction itself, which leaves the tenant not where
 * any ordinary failure leaves it.
 */
async function afterFailure(storage: MigrationsTable, error: unknown): Promise<unknown> {
    const abandoned = await storage.abandon();
    if (!abandoned?.ended) return error;
    const original = error instanceof MigrationError ? error.cause : error;
    const refused = (original as { code?: string } | undefined)?.code === LOST_TRANSACTION_SQLSTATE;
    const failure = refused ? undefined : original instanceof Error ? original.message : String(original);
    return new MigrationTransactionLostError(abandoned.name, abandoned.ended, failure);
}

/**
 * Runs the request with umzug, which picks the migrations within the target: going up, the
 * pending ones in order; going down, the last applied one, or (with `to`) every applied one
 * after it, newest first. Returns the names it ran. On failure, the failed migration's open
 * transaction is rolled back; the ones before it stay committed, each with its row.
 */
export async function migrateWithUmzug(run: TenantMigrator): Promise<string[]> {
    const umzug = createUmzug(run);
    let ran: MigrationMeta[];
    try {
        ran = run.request.mode === "down" ? await umzug.down(run.request.to === undefined ? {} : { to: 0 }) : await umzug.up();
    } catch (error) {
        throw await afterFailure(run.storage, error);
    }
    const unrecorded = await run.storage.rollbackOpen();
    if (unrecorded) throw new Error(`umzug finished without recording ${unrecorded}; its transaction was rolled back`);
    return ran.map((migration) => migration.name);
}

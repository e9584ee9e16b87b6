/**
 * `tenantdb serve`: the control database opened and locked (one service per database), jobs
 * left running by a previous process marked interrupted (never re-run), queued ones run, then
 * the HTTP API listening.
 */
import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { BackupInventory, loadInventory } from "../backup";
import { finalBackupFromInventory } from "../control";
import { buildApp, LOGGER } from "./app";
import { openControlDatabase, takeServiceLock } from "./control-db";
import { DeployedOutputsCache } from "./deployed-cache";
import { JobStore } from "./jobs";
import { Scope, ServeTarget } from "./target";
import { CostReports } from "./tenant-cost";
import { Worker } from "./worker";

export interface ServeOptions {
    readonly workDir: string;
    readonly scope: Scope;
    readonly host: string;
    /** 0: a free port. */
    readonly port: number;
    /** The control database; the embedded one when undefined. */
    readonly controlDatabaseUrl?: string;
    /** Backup inventory: final backups before a suspension, and each tenant's newest backup. */
    readonly backupConfig?: string;
    /** Recorded in each lease and lifecycle transition. */
    readonly actor: string;
    readonly pulumiBinDir?: string;
    readonly env?: Record<string, string>;
    readonly lease?: { readonly waitMs?: number; readonly staleMs?: number };
    readonly logger?: FastifyServerOptions["logger"];
}

export interface RunningService {
    readonly url: string;
    readonly app: FastifyInstance;
    readonly recovered: { readonly interrupted: string[]; readonly notStarted: string[]; readonly resumed: number };
    /** Stops listening, waits for running jobs, releases the lock and closes the database. */
    close(): Promise<void>;
}

export async function startService(options: ServeOptions): Promise<RunningService> {
    const db = await openControlDatabase({ url: options.controlDatabaseUrl, workDir: options.workDir, service: true });
    let lock: Awaited<ReturnType<typeof takeServiceLock>>;
    try {
        lock = await takeServiceLock(db.pool);
    } catch (error) {
        await db.close();
        throw error;
    }
    const inventory: BackupInventory | undefined = options.backupConfig ? loadInventory(options.backupConfig) : undefined;
    const store = new JobStore(db.pool);
    const engine = { workDir: options.workDir, pulumiBinDir: options.pulumiBinDir, env: options.env };
    const deployed = new DeployedOutputsCache(engine);
    let app: FastifyInstance | undefined;
    const worker = new Worker(
        store,
        () => target,
        () => app!.log,
        (stack) => deployed.invalidate(stack),
    );
    const target = new ServeTarget(options.scope, {
        ...engine,
        actor: options.actor,
        lease: options.lease,
        finalBackup: inventory ? finalBackupFromInventory(inventory) : undefined,
        onEvent: (event) => worker.onControlEvent(event),
    });
    try {
        const recovered = await store.recover();
        app = await buildApp(
            { pool: db.pool, store, worker, target, deployed, costs: new CostReports(options.workDir), inventory },
            options.logger ?? LOGGER,
        );
        for (const id of recovered.interrupted)
            app.log.warn({ job: id }, "job was running when the service stopped: marked interrupted, not run again");
        for (const id of recovered.notStarted)
            app.log.warn({ job: id }, "queued job needed a secret the service does not store: marked failed");
        for (const job of recovered.runnable) worker.submit(job);
        const address = await app.listen({ host: options.host, port: options.port });
        app.log.info(`tenantdb serve: ${address}, control database: ${db.description}`);
        const running = app;
        return {
            url: address,
            app: running,
            recovered: { interrupted: recovered.interrupted, notStarted: recovered.notStarted, resumed: recovered.runnable.length },
            close: async () => {
                await running.close();
                await worker.drain();
                await lock.release();
                await db.close();
            },
        };
    } catch (error) {
        await app?.close();
        await lock.release();
        await db.close();
        throw error;
    }
}

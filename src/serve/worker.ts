/**
 * Runs jobs in the service's process through the control API. Jobs run as they arrive: the
 * client serializes work on one stack with its lease and batches concurrent provisions into one
 * engine update. Control events are recorded on the jobs they concern, as structured events:
 * the engine's raw output lines never are.
 */
import type { FastifyBaseLogger } from "fastify";
import { setTimeout as sleep } from "node:timers/promises";
import type { ControlEvent, ProposedChange } from "../control";
import type { SeedInput } from "../migrate/types";
import { JobStore } from "./jobs";
import { controlProblem, INTERNAL } from "./problems";
import type { Job } from "./schemas";
import type { ServeTarget } from "./target";

interface Running {
    readonly job: Job;
    stack: string | null;
    /** Its control events, written in order; the final state waits for them. */
    recorded: Promise<void>;
}

/**
 * Provision requests arriving within this window of the first are handed to the client together,
 * so they share one engine update: the client batches only what is queued when it takes the
 * stack's lease, and a burst of HTTP requests arrives over a few hundred milliseconds. A
 * provision takes tens of seconds; the wait is noise next to it.
 */
export const PROVISION_WINDOW_MS = 300;

export class Worker {
    /** Open while provision jobs gather; they all proceed when it closes. */
    private provisionWindow?: Promise<void>;
    private readonly running = new Map<string, Running>();
    private readonly done = new Set<Promise<void>>();

    constructor(
        private readonly store: JobStore,
        private readonly target: () => ServeTarget,
        private readonly log: () => FastifyBaseLogger,
        /** Told of each stack a job changed (cached reads of it are then stale). */
        private readonly onStackChanged: (stack: string) => void = () => undefined,
    ) {}

    /** Runs a queued job (at most once: JobStore.start says whether this call may). */
    submit(job: Job, seed?: SeedInput): void {
        const run = this.run(job, seed).catch((error: unknown) => this.log().error({ err: error, job: job.id }, "job bookkeeping failed"));
        this.done.add(run);
        void run.finally(() => this.done.delete(run));
    }

    /** Waits for the jobs running now (a graceful stop); those still running at a kill read interrupted after the restart. */
    async drain(): Promise<void> {
        await Promise.allSettled([...this.done]);
    }

    /** Records a control event on the running jobs it concerns. */
    onControlEvent(event: ControlEvent): void {
        if (event.kind === "engine") return;
        for (const [id, entry] of this.running) {
            const tenant = "tenantId" in event ? event.tenantId : undefined;
            // A fleet provision learns its cell from the first event that names its tenant.
            if (entry.stack === null && tenant === entry.job.tenant) entry.stack = event.stack;
            if (entry.stack !== event.stack || (tenant !== undefined && tenant !== entry.job.tenant)) continue;
            const recorded = this.describe(event, entry.job.tenant);
            if (recorded)
                void this.store.event(id, recorded).catch((error: unknown) => this.log().warn({ err: error }, "job event not recorded"));
        }
    }

    private describe(event: ControlEvent, tenant: string): Record<string, unknown> | undefined {
        switch (event.kind) {
            case "waiting":
                return { type: "waiting", stack: event.stack, holder: event.holder ?? null };
            case "leased":
                return { type: "leased", stack: event.stack, operation: event.operation };
            case "config-written":
                return { type: "config-written", stack: event.stack, state: event.state ?? null };
            case "engine-locked":
                return { type: "engine-locked", stack: event.stack };
            case "backup":
                return { type: "final-backup", stack: event.stack, location: event.location };
            case "migrated": {
                const mine = event.report.tenants.find((t) => t.tenantId === tenant);
                return mine ? { type: "migrated", stack: event.stack, outcome: mine.outcome, applied: [...mine.applied] } : undefined;
            }
            default:
                return undefined;
        }
    }

    private async run(job: Job, seed: SeedInput | undefined): Promise<void> {
        if (!(await this.store.start(job.id))) return;
        this.running.set(job.id, { job, stack: job.stack, recorded: Promise.resolve() });
        try {
            const { result, stack } = await this.execute(job, seed);
            const entry = this.running.get(job.id)!;
            entry.stack = stack;
            await entry.recorded;
            await this.store.finish(job.id, { result, stack });
        } catch (error) {
            const known = controlProblem(error);
            if (!known) this.log().error({ err: error, job: job.id }, "job failed unexpectedly");
            await this.running.get(job.id)?.recorded;
            await this.store.finish(job.id, { error: known ?? INTERNAL });
        } finally {
            const entry = this.running.get(job.id);
            this.running.delete(job.id);
            if (entry?.stack) this.onStackChanged(entry.stack);
        }
    }

    private async execute(job: Job, seed: SeedInput | undefined): Promise<{ result: Record<string, unknown>; stack: string }> {
        const target = this.target();
        const { request } = job;
        if (job.kind === "provision") {
            this.provisionWindow ??= sleep(PROVISION_WINDOW_MS).then(() => {
                this.provisionWindow = undefined;
            });
            await this.provisionWindow;
            const { seed: _withoutSeed, ...tenant } = request;
            const provisioned = await target.provision(tenant, seed);
            const mine = provisioned.migrations.tenants.find((t) => t.tenantId === job.tenant);
            return {
                stack: provisioned.stack,
                result: {
                    tenantId: provisioned.tenantId,
                    server: provisioned.server,
                    stack: provisioned.stack,
                    created: provisioned.created,
                    migrations: mine ? { outcome: mine.outcome, from: mine.from, to: mine.to, applied: [...mine.applied] } : null,
                },
            };
        }
        if (job.kind === "preview") {
            const preview = await target.previewChange(request as unknown as ProposedChange);
            return { stack: preview.stack, result: JSON.parse(JSON.stringify(preview)) as Record<string, unknown> };
        }
        const stack = job.stack!;
        const reason = typeof request.reason === "string" ? request.reason : undefined;
        const overrideRetention = typeof request.overrideRetention === "string" ? request.overrideRetention : undefined;
        const changed =
            job.kind === "retire"
                ? await target.client.retire(stack, job.tenant, { reason, overrideRetention })
                : await target.client[job.kind](stack, job.tenant, { reason });
        return {
            stack,
            result: { tenantId: changed.tenantId, stack, state: changed.state, ...(changed.backup ? { backup: changed.backup } : {}) },
        };
    }
}

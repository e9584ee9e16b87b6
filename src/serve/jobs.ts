/**
 * Job records in the control database. A job moves queued -> running -> succeeded | failed, or
 * to interrupted when the service stopped while it ran. Each move is its own committed
 * statement, guarded by the state it leaves, so a job is started at most once: `start` records
 * started_at and commits before the control API is called, so a job that ran can never look
 * unstarted after a kill -9.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Pool, PoolClient } from "pg";
import { problem, Problem } from "./problems";
import type { Job } from "./schemas";

export type JobKind = Job["kind"];
export type JobState = Job["state"];
export const TERMINAL: readonly JobState[] = ["succeeded", "failed", "interrupted"];

/** One entry of a job's event stream: a state change, or a structured control event. */
export interface JobEvent {
    readonly seq: number;
    readonly at: string;
    readonly event: Record<string, unknown>;
}

interface JobRow {
    id: string;
    kind: JobKind;
    tenant: string;
    stack: string | null;
    state: JobState;
    request: Record<string, unknown>;
    result: Record<string, unknown> | null;
    error: Problem | null;
    created_by: string;
    created_at: Date;
    started_at: Date | null;
    finished_at: Date | null;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function jobOf(row: JobRow): Job {
    return {
        id: row.id,
        kind: row.kind,
        tenant: row.tenant,
        stack: row.stack,
        state: row.state,
        request: row.request,
        result: row.result,
        error: row.error,
        createdBy: row.created_by,
        createdAt: row.created_at.toISOString(),
        startedAt: iso(row.started_at),
        finishedAt: iso(row.finished_at),
    };
}

export const INTERRUPTED = problem(
    500,
    "interrupted",
    "The service stopped while this job ran",
    "The service stopped (crashed, was killed or restarted) while this job was running, so its effect may or may not have been applied. " +
        "It will not be run again. Check the tenant (GET /v1/tenants/{id}), then submit the request again with a new Idempotency-Key if needed: provisioning the same tenant again is safe.",
);

export const NOT_STARTED = problem(
    503,
    "not-started",
    "The service restarted before this job started",
    "The service restarted before this job started, and its request carried a secret the service never stores (the seed's adminPassword). " +
        "Nothing was done. Submit the request again with a new Idempotency-Key.",
);

export interface NewJob {
    readonly kind: JobKind;
    readonly tenant: string;
    readonly stack: string | null;
    /** The request with its secrets removed. */
    readonly request: Record<string, unknown>;
    readonly createdBy: string;
    readonly needsSecret: boolean;
}

export class JobStore {
    /** New events, for server-sent event streams (they are in the database first). */
    readonly events = new EventEmitter().setMaxListeners(0);

    constructor(readonly pool: Pool) {}

    /**
     * Creates a job under an idempotency key, or finds the job the key already made. Same key
     * and token with another request: `conflict`. One transaction, so concurrent requests with
     * one key give one job.
     */
    async createIdempotent(
        token: string,
        key: string,
        requestHash: string,
        job: NewJob,
    ): Promise<{ outcome: "created" | "replayed"; job: Job } | { outcome: "conflict" }> {
        const id = randomUUID();
        const created = await this.transaction(async (client) => {
            const { rows } = await client.query<JobRow>(
                `INSERT INTO jobs (id, kind, tenant, stack, request, state, created_by, needs_secret)
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7) RETURNING *`,
                [id, job.kind, job.tenant, job.stack, job.request, job.createdBy, job.needsSecret],
            );
            const keyed = await client.query(
                `INSERT INTO idempotency_keys (token, key, request_hash, job) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (token, key) DO NOTHING RETURNING job`,
                [token, key, requestHash, id],
            );
            if (keyed.rowCount === 0) throw new KeyTaken();
            await this.recordEvent(client, id, { type: "state", state: "queued" });
            return jobOf(rows[0]);
        }).catch((error: unknown) => {
            if (error instanceof KeyTaken) return undefined;
            throw error;
        });
        if (created) return { outcome: "created", job: created };
        const { rows } = await this.pool.query<{ request_hash: string; job: string }>(
            "SELECT request_hash, job FROM idempotency_keys WHERE token = $1 AND key = $2",
            [token, key],
        );
        if (rows[0].request_hash !== requestHash) return { outcome: "conflict" };
        return { outcome: "replayed", job: (await this.get(rows[0].job))! };
    }

    async get(id: string): Promise<Job | undefined> {
        const { rows } = await this.pool.query<JobRow>("SELECT * FROM jobs WHERE id = $1", [id]);
        return rows[0] ? jobOf(rows[0]) : undefined;
    }

    /** Marks a queued job running and commits; false when it is not queued (it must then not run). */
    async start(id: string): Promise<boolean> {
        const started = await this.pool.query(
            "UPDATE jobs SET state = 'running', started_at = clock_timestamp() WHERE id = $1 AND state = 'queued'",
            [id],
        );
        if (started.rowCount !== 1) return false;
        await this.event(id, { type: "state", state: "running" });
        return true;
    }

    async finish(id: string, outcome: { result: Record<string, unknown>; stack?: string } | { error: Problem }): Promise<void> {
        const state = "error" in outcome ? "failed" : "succeeded";
        await this.pool.query(
            `UPDATE jobs SET state = $2, result = $3, error = $4, stack = coalesce($5, stack), finished_at = clock_timestamp()
             WHERE id = $1 AND state = 'running'`,
            [
                id,
                state,
                "result" in outcome ? outcome.result : null,
                "error" in outcome ? outcome.error : null,
                "result" in outcome ? (outcome.stack ?? null) : null,
            ],
        );
        await this.event(id, { type: "state", state, ...("error" in outcome ? { error: outcome.error } : {}) });
    }

    /**
     * After a restart: every job left running is interrupted (never run again); queued jobs whose
     * secret is gone cannot run and fail. Returns the queued jobs that may still run.
     */
    async recover(): Promise<{ interrupted: string[]; notStarted: string[]; runnable: Job[] }> {
        const interrupted = await this.pool.query<{ id: string }>(
            "UPDATE jobs SET state = 'interrupted', error = $1, finished_at = clock_timestamp() WHERE state = 'running' RETURNING id",
            [INTERRUPTED],
        );
        const notStarted = await this.pool.query<{ id: string }>(
            "UPDATE jobs SET state = 'failed', error = $1, finished_at = clock_timestamp() WHERE state = 'queued' AND needs_secret RETURNING id",
            [NOT_STARTED],
        );
        for (const { id } of interrupted.rows) await this.event(id, { type: "state", state: "interrupted", error: INTERRUPTED });
        for (const { id } of notStarted.rows) await this.event(id, { type: "state", state: "failed", error: NOT_STARTED });
        const runnable = await this.pool.query<JobRow>("SELECT * FROM jobs WHERE state = 'queued' ORDER BY created_at");
        return {
            interrupted: interrupted.rows.map((r) => r.id),
            notStarted: notStarted.rows.map((r) => r.id),
            runnable: runnable.rows.map(jobOf),
        };
    }

    async countsByState(): Promise<Record<string, number>> {
        const { rows } = await this.pool.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM jobs GROUP BY state");
        return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    }

    /** A job's events after `afterSeq`, oldest first. */
    async eventsAfter(id: string, afterSeq: number): Promise<JobEvent[]> {
        const { rows } = await this.pool.query<{ seq: string; at: Date; event: Record<string, unknown> }>(
            "SELECT seq, at, event FROM job_events WHERE job = $1 AND seq > $2 ORDER BY seq",
            [id, afterSeq],
        );
        return rows.map((r) => ({ seq: Number(r.seq), at: r.at.toISOString(), event: r.event }));
    }

    /** Records an event for a job and tells the streams following it. */
    async event(id: string, event: Record<string, unknown>): Promise<void> {
        await this.recordEvent(this.pool, id, event);
        this.events.emit(id);
    }

    private async recordEvent(client: Pool | PoolClient, id: string, event: Record<string, unknown>): Promise<void> {
        await client.query("INSERT INTO job_events (job, event) VALUES ($1, $2)", [id, event]);
    }

    private async transaction<T>(body: (client: PoolClient) => Promise<T>): Promise<T> {
        const client = await this.pool.connect();
        try {
            await client.query("BEGIN");
            const result = await body(client);
            await client.query("COMMIT");
            return result;
        } catch (error) {
            await client.query("ROLLBACK").catch(() => undefined);
            throw error;
        } finally {
            client.release();
        }
    }
}

class KeyTaken extends Error {}

/**
 * The audit log: every mutating call (authorized or not), every connection-string read. Who (the
 * token's name, or anonymous), what (method, route, tenant, idempotency key, job), when, and the
 * HTTP status. A job's final state is joined from its job record (auditTrail): it is there the
 * moment the job finishes, with no race between the job ending and the request's own row.
 */
import type { Pool } from "pg";

export interface AuditEntry {
    readonly who: string;
    readonly method: string;
    readonly route: string;
    readonly tenant?: string;
    readonly idempotencyKey?: string;
    readonly job?: string;
    readonly status: number;
}

export interface AuditRecord extends AuditEntry {
    readonly at: string;
    /** The job's state now: its final state once it finished. */
    readonly jobState?: string;
}

export async function audit(pool: Pool, entry: AuditEntry): Promise<void> {
    await pool.query("INSERT INTO audit (who, method, route, tenant, idempotency_key, job, status) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
        entry.who,
        entry.method,
        entry.route,
        entry.tenant ?? null,
        entry.idempotencyKey ?? null,
        entry.job ?? null,
        entry.status,
    ]);
}

/** The audit log, oldest first, each entry with its job's state. */
export async function auditTrail(pool: Pool): Promise<AuditRecord[]> {
    const { rows } = await pool.query<{
        at: Date;
        who: string;
        method: string;
        route: string;
        tenant: string | null;
        idempotency_key: string | null;
        job: string | null;
        status: number;
        job_state: string | null;
    }>(
        `SELECT a.at, a.who, a.method, a.route, a.tenant, a.idempotency_key, a.job, a.status, j.state AS job_state
         FROM audit a LEFT JOIN jobs j ON j.id = a.job ORDER BY a.id`,
    );
    return rows.map((r) => ({
        at: r.at.toISOString(),
        who: r.who,
        method: r.method,
        route: r.route,
        status: r.status,
        ...(r.tenant !== null ? { tenant: r.tenant } : {}),
        ...(r.idempotency_key !== null ? { idempotencyKey: r.idempotency_key } : {}),
        ...(r.job !== null ? { job: r.job } : {}),
        ...(r.job_state !== null ? { jobState: r.job_state } : {}),
    }));
}

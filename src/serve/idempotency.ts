/**
 * Idempotency keys: per token, a key names one intended operation. The request is remembered by
 * a SHA-256 of its canonical form (method, route, parameters, body with keys sorted), never by
 * its text, so the seed's admin password is not stored.
 */
import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServiceContext } from "./context";
import type { NewJob } from "./jobs";
import { HttpProblem, problem } from "./problems";
import type { Job } from "./schemas";

function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object")
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
        );
    return value;
}

export function requestHash(request: FastifyRequest): string {
    const form = { method: request.method, route: request.routeOptions.url, params: request.params ?? {}, body: request.body ?? {} };
    return createHash("sha256")
        .update(JSON.stringify(canonical(form)))
        .digest("hex");
}

/**
 * Creates the job a request asks for, or answers with the one its key already made (202 again,
 * `Idempotent-Replayed: true`). The same key with another request is a 422.
 */
export async function acceptJob(
    context: ServiceContext,
    request: FastifyRequest,
    reply: FastifyReply,
    job: Omit<NewJob, "createdBy">,
    onCreated: (job: Job) => void,
): Promise<Job> {
    const key = request.headers["idempotency-key"] as string;
    const outcome = await context.store.createIdempotent(request.caller!, key, requestHash(request), {
        ...job,
        createdBy: request.caller!,
    });
    if (outcome.outcome === "conflict") {
        throw new HttpProblem(
            problem(
                422,
                "idempotency-key-reused",
                "Idempotency key already used for another request",
                "This Idempotency-Key was used with a different request; use a new key for a new operation.",
                [{ field: "headers.idempotency-key", message: "was already used with a different request" }],
            ),
        );
    }
    request.jobId = outcome.job.id;
    if (outcome.outcome === "created") onCreated(outcome.job);
    else reply.header("Idempotent-Replayed", "true");
    reply.code(202).header("Location", `/v1/jobs/${outcome.job.id}`);
    return outcome.job;
}

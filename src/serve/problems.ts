/**
 * RFC 9457 problem details: every error the service answers with, and every failed job's error,
 * is one of these. Built from the control API's typed errors (src/control/errors.ts), whose
 * messages name the stack, tenant or field and never hold a secret; anything else becomes a
 * generic 500 whose cause is logged server-side only.
 */
import { ControlError, InvalidRequestError } from "../control";

export interface FieldError {
    readonly field: string;
    readonly message: string;
}

export interface Problem {
    readonly type: string;
    readonly title: string;
    readonly status: number;
    readonly detail?: string;
    readonly instance?: string;
    readonly errors?: FieldError[];
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Problem types are URNs: stable identifiers a client branches on, not links to follow. */
export const problemType = (slug: string) => `urn:tenantdb:problem:${slug}`;

export function problem(status: number, slug: string, title: string, detail?: string, errors?: FieldError[]): Problem {
    return {
        type: problemType(slug),
        title,
        status,
        ...(detail !== undefined ? { detail } : {}),
        ...(errors !== undefined ? { errors } : {}),
    };
}

/** Thrown by handlers and hooks; the error handler answers with its problem. */
export class HttpProblem extends Error {
    constructor(readonly problem: Problem) {
        super(problem.detail ?? problem.title);
        this.name = "HttpProblem";
    }
}

export const validationProblem = (errors: FieldError[]) =>
    problem(400, "validation", "The request is invalid", "See errors: each names the field at fault.", errors);

export const notFound = (detail: string) => problem(404, "not-found", "Not found", detail);

/**
 * Fixed bodies for authentication and authorization failures: the same for a missing, malformed,
 * unknown or revoked token, and nothing about the scopes a route needs.
 */
export const UNAUTHORIZED = problem(401, "unauthorized", "Unauthorized", "A valid bearer token is required.");
export const FORBIDDEN = problem(403, "forbidden", "Forbidden", "This token may not make this request.");

export const INTERNAL = problem(500, "internal", "Internal server error", "The error was logged; nothing about it is shown here.");

/** HTTP status and problem type per control API error code. */
const CONTROL_PROBLEMS: Record<string, { status: number; title: string }> = {
    invalid_request: { status: 422, title: "The request cannot be carried out" },
    conflict: { status: 409, title: "The request conflicts with the stack" },
    busy: { status: 503, title: "The stack is busy" },
    engine_failed: { status: 502, title: "The Pulumi engine failed" },
    migration_failed: { status: 500, title: "Migrations failed" },
    final_backup_failed: { status: 500, title: "The final backup could not be verified" },
    aborted: { status: 503, title: "The operation was aborted" },
    lease_lost: { status: 503, title: "The stack's lease was lost" },
};

/** A control API error as a problem; undefined for anything else (the caller answers 500). */
export function controlProblem(error: unknown): Problem | undefined {
    if (!(error instanceof ControlError)) return undefined;
    const known = CONTROL_PROBLEMS[error.code] ?? { status: 500, title: "The operation failed" };
    const errors =
        error instanceof InvalidRequestError
            ? [
                  {
                      field: error.field,
                      message: error.message.startsWith(`${error.field}: `) ? error.message.slice(error.field.length + 2) : error.message,
                  },
              ]
            : undefined;
    return problem(known.status, error.code.replace(/_/g, "-"), known.title, error.message, errors);
}

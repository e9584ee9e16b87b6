/**
 * What the control API throws. Each failure a portal must handle differently has its own class,
 * so a caller branches on `instanceof` (or on `code`, for JSON) and never on message text.
 * Messages name the stack, the tenant or the field, and the fix; none holds a secret.
 */
import { ConfigError } from "../config/errors";
import type { FleetReport } from "../migrate/fleet";

export abstract class ControlError extends Error {
    /** Stable identifier for JSON clients and exit codes. */
    abstract readonly code: string;
}

/** The request itself is wrong: a field, a state or a transition. Retrying the same request will not help. */
export class InvalidRequestError extends ControlError {
    readonly code = "invalid_request";
    constructor(
        /** The field at fault, e.g. `request.id` or `tenantdb:tenants[3].server`. */
        readonly field: string,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(`${field}: ${message}`, options);
        this.name = "InvalidRequestError";
    }

    /** A ConfigError's first problem as an invalid request (every problem stays in the message). */
    static fromConfigError(error: ConfigError): InvalidRequestError {
        const invalid = new InvalidRequestError(error.problems[0]?.path ?? "request", error.message, { cause: error });
        invalid.message = error.message;
        return invalid;
    }
}

/** Runs a parse or validation, turning its ConfigError into an InvalidRequestError for the caller. */
export function asInvalidRequest<T>(parse: () => T): T {
    try {
        return parse();
    } catch (error) {
        if (error instanceof ConfigError) throw InvalidRequestError.fromConfigError(error);
        throw error;
    }
}

/** Another operation holds the stack's lease (or the engine's stack lock) and did not finish within the wait. */
export class BusyError extends ControlError {
    readonly code = "busy";
    constructor(
        readonly stack: string,
        /** Who holds it, as its lease says ("portal:alice provision acme since ..."), when known. */
        readonly holder: string | undefined,
        readonly waitedMs: number,
    ) {
        super(
            `stack ${stack} is busy${holder ? ` (${holder})` : ""}; waited ${Math.round(waitedMs / 1000)} s. ` +
                "Retry later, or raise the wait; a holder that crashed loses its lease on its own after the stale period.",
        );
        this.name = "BusyError";
    }
}

/** The request contradicts what the stack already holds (the same tenant id with another plan, a changed file). */
export class ConflictError extends ControlError {
    readonly code = "conflict";
    constructor(message: string) {
        super(message);
        this.name = "ConflictError";
    }
}

/** A Pulumi engine operation failed; `output` is the tail of what it printed (secrets masked by the engine). */
export class EngineError extends ControlError {
    readonly code = "engine_failed";
    constructor(
        readonly stack: string,
        readonly operation: string,
        readonly output: string,
        options?: { cause?: unknown },
    ) {
        super(`pulumi ${operation} of stack ${stack} failed:\n${output}`, options);
        this.name = "EngineError";
    }
}

/** The deployment went through but migrating some tenants failed; `report` has each tenant's result. */
export class MigrationFailedError extends ControlError {
    readonly code = "migration_failed";
    /** The tenants that failed: `only` those asked about, else every failed tenant of the report. */
    readonly failedTenants: readonly string[];

    constructor(
        readonly stack: string,
        readonly report: FleetReport,
        only?: readonly string[],
    ) {
        const failed = only ?? report.tenants.filter((t) => t.outcome === "failed").map((t) => t.tenantId);
        const reasons = report.tenants.filter((t) => failed.includes(t.tenantId) && t.error).map((t) => `\n  - ${t.error}`);
        super(`stack ${stack}: migrations failed for ${failed.join(", ")}; the deployment itself succeeded.${reasons.join("")}`);
        this.name = "MigrationFailedError";
        this.failedTenants = failed;
    }
}

/** The caller's AbortSignal fired; nothing was started after it did. */
export class AbortedError extends ControlError {
    readonly code = "aborted";
    constructor(what: string) {
        super(`${what} was aborted before it finished`);
        this.name = "AbortedError";
    }
}

/** The lease was lost while working (the process stalled longer than the stale period); the work was stopped. */
export class LeaseLostError extends ControlError {
    readonly code = "lease_lost";
    constructor(stack: string, cause: unknown) {
        super(`stack ${stack}: the lease was lost while working (another caller may now hold it); stopped. Check the stack, then retry.`, {
            cause,
        });
        this.name = "LeaseLostError";
    }
}

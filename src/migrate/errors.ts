/**
 * Errors that name the tenant, the server and the step, say what went wrong and how to
 * fix it, and never carry a password.
 */
import { MigrationError } from "umzug";
import { redact } from "../shared/redact";
import { MigrationRunnerError } from "./runner-errors";

/** Where a tenant's run was when it failed. */
export type Step = "connect" | "read state" | "lock" | "plan" | `apply ${string}` | `revert ${string}` | "repair";

export interface ErrorScope {
    readonly tenantId: string;
    readonly server: string;
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly step: Step;
    /** Secrets that must not appear in the message, whatever the driver put in it. */
    readonly secrets: readonly string[];
    /** Settings of the migration being run, to explain timeouts. */
    readonly lockTimeout?: string;
    readonly statementTimeout?: string;
    /** File and first line of the SQL section being run, to turn error positions into lines. */
    readonly file?: string;
    readonly line?: number;
    readonly sqlOffset?: number;
    readonly sql?: string;
}

export class TenantMigrationError extends Error {
    readonly tenantId: string;
    readonly server: string;
    readonly step: Step;
    /** The runner error's code, or the PostgreSQL SQLSTATE or Node error code, when there is one. */
    readonly code?: string;

    constructor(scope: ErrorScope, cause: unknown) {
        const { reason, fix, code } = explain(scope, cause);
        super(redact(`tenant ${scope.tenantId} (server ${scope.server}), step "${scope.step}": ${reason}. Fix: ${fix}`, scope.secrets), {
            cause,
        });
        this.name = "TenantMigrationError";
        this.tenantId = scope.tenantId;
        this.server = scope.server;
        this.step = scope.step;
        this.code = code;
    }
}

interface DriverError {
    code?: string;
    /** The server function that raised it: tells apart errors that share a SQLSTATE, whatever lc_messages says. */
    routine?: string;
    message?: string;
    position?: string;
    detail?: string;
}

function lineInFile(scope: ErrorScope, position: string | undefined): string {
    if (!scope.file || !position || scope.sql === undefined) return scope.file ? ` (${scope.file})` : "";
    const index = Number(position) - 1 - (scope.sqlOffset ?? 0);
    if (!(index >= 0 && index <= scope.sql.length)) return ` (${scope.file})`;
    const line = (scope.line ?? 1) + scope.sql.slice(0, index).split("\n").length - 1;
    return ` (${scope.file}, line ${line})`;
}

function explain(scope: ErrorScope, cause: unknown): { reason: string; fix: string; code?: string } {
    // umzug's MigrationError names the migration and direction, as the step does; the reason is its cause's.
    const original = cause instanceof MigrationError ? cause.cause : cause;
    if (original instanceof MigrationRunnerError) return { code: original.code, reason: original.message, fix: original.fix };
    const error = (original ?? {}) as DriverError;
    const code = error.code;
    const message = error.message ?? String(original);
    const where = `${scope.host}:${scope.port}`;
    switch (code) {
        case "ECONNREFUSED":
        case "ENOTFOUND":
        case "EAI_AGAIN":
        case "EHOSTUNREACH":
        case "ETIMEDOUT":
        case "ECONNRESET":
            return {
                code,
                reason: `cannot reach PostgreSQL at ${where} (${code})`,
                fix: `check the host and port of server ${scope.server} in the targets and that it accepts connections from this machine`,
            };
        case "28P01":
            return {
                code,
                reason: `password authentication failed for role ${scope.user}`,
                fix: `check the migrator password of tenant ${scope.tenantId} (stack output tenantSecrets.${scope.tenantId}.migratorPassword, or the targets file)`,
            };
        case "28000":
            return {
                code,
                reason: message,
                fix: `check that role ${scope.user} exists, may log in, and that pg_hba.conf of server ${scope.server} allows it`,
            };
        case "3D000":
            return {
                code,
                reason: `database ${scope.database} does not exist on server ${scope.server}`,
                fix: "provision the tenant first (pulumi up), or remove it from the targets",
            };
        case "42501":
            return {
                code,
                reason: message,
                fix: `the migration needs a privilege the tenant's owner role lacks; check that ${scope.user} is a member of the owner role and the migration only touches the tenant's schemas`,
            };
        // The migrator role's own limit never gets here: the runner waits for it like a lock (lock.ts).
        case "53300":
            if (error.routine === "CheckMyDatabase" || /too many connections for database/.test(message)) {
                return {
                    code,
                    reason: message,
                    fix: `database ${scope.database} is at its CONNECTION LIMIT (the tenant's app and readonly sessions); re-run when some have ended, or raise the tenant's connectionLimit in the stack config`,
                };
            }
            return {
                code,
                reason: message,
                fix: `server ${scope.server} is at max_connections; lower --concurrency or --per-server, or re-run when its load drops`,
            };
        case "55P03":
            return {
                code,
                reason: `waited longer than lock_timeout (${scope.lockTimeout ?? "?"}) for a lock: ${message}`,
                fix: "another transaction holds a lock on a table this migration changes; retry when it has finished, or raise lock_timeout in the migration's header",
            };
        case "57014":
            return {
                code,
                reason: `ran longer than statement_timeout (${scope.statementTimeout ?? "?"}): ${message}`,
                fix: "raise statement_timeout in the migration's header, or make the migration cheaper (e.g. batch a data change)",
            };
        case "57P01":
        case "57P02":
        case "57P03":
            return {
                code,
                reason: `the server ended the connection: ${message}`,
                fix: "the transaction was rolled back, nothing of this migration was kept; re-run when the server is available",
            };
    }
    if (code && /^42/.test(code)) {
        return {
            code,
            reason: `${message}${lineInFile(scope, error.position)}`,
            fix: "correct the migration file; the tenant stays at its previous version",
        };
    }
    if (code && /^23/.test(code)) {
        return {
            code,
            reason: `${message}${error.detail ? ` (${error.detail})` : ""}${lineInFile(scope, error.position)}`,
            fix: "the tenant's data violates a constraint this migration relies on; fix the data or the migration",
        };
    }
    if (/timeout expired|Connection terminated/i.test(message)) {
        return {
            code,
            reason: `${message} (PostgreSQL at ${where})`,
            fix: `check that server ${scope.server} is up and reachable; a re-run finishes the job`,
        };
    }
    return {
        code,
        reason: message + lineInFile(scope, error.position),
        fix: "see the message; the tenant stays at its previous version and a re-run resumes",
    };
}

/**
 * The runner's own refusals, one class each, so callers test `instanceof` instead of
 * comparing strings; errors.ts turns them into the per-tenant message with their fix.
 */
import type { Drift } from "./plan";

/**
 * What the runner itself refuses or gives up on (as opposed to what PostgreSQL or the network
 * report). Each class knows its fix; `code` keeps the short name reports have always shown.
 */
export abstract class MigrationRunnerError extends Error {
    abstract readonly code: string;
    abstract readonly fix: string;

    constructor(message: string) {
        super(message);
        this.name = new.target.name;
    }
}

/** Another runner holds the tenant's advisory lock for longer than this one would wait. */
export class MigrationLockedError extends MigrationRunnerError {
    readonly code = "LOCKED";
    readonly fix = "re-run when the other runner has finished (it may finish the job itself), or wait longer with --lock-wait <ms>";

    constructor(holder: string, waitedMs: number) {
        super(`another runner (${holder}) held the migration lock for more than ${waitedMs} ms`);
    }
}

/** Who holds a migrator role's connections when it is at its limit. */
export const CONNECTIONS_TAKEN = "other runners are migrating this tenant, or sessions of that role are open";

/**
 * The tenant's migrator role stayed at its CONNECTION LIMIT (53300 at login) for longer than this
 * runner would wait: other runners hold its connections, as they would hold the lock.
 */
export class MigratorConnectionsBusyError extends MigrationRunnerError {
    readonly code = "MIGRATOR_BUSY";
    readonly fix = "re-run when the other runners have finished (they may finish the job themselves), or wait longer with --lock-wait <ms>";

    constructor(role: string, waitedMs: number) {
        super(`role ${role} stayed at its connection limit for more than ${waitedMs} ms (${CONNECTIONS_TAKEN})`);
    }
}

/** Applied migrations that no longer match the local files: edited (checksums differ) or deleted. */
export class MigrationDriftError extends MigrationRunnerError {
    readonly code = "DRIFT";
    readonly fix =
        "restore the applied migration files from version control, or, if the edit is intended and already reflected in the database, " +
        "run `migrate repair` to accept the local files";

    constructor(readonly drift: readonly Drift[]) {
        super(describeDrift(drift));
    }

    /** The most precise class for `drift`: a checksum mismatch when every entry is an edited file. */
    static of(drift: readonly Drift[]): MigrationDriftError {
        return drift.every((d) => d.kind === "changed") ? new ChecksumMismatchError(drift) : new MigrationDriftError(drift);
    }
}

/** Applied migrations whose files were edited afterwards. */
export class ChecksumMismatchError extends MigrationDriftError {}

/** A down run would have to revert a migration that has no down section. */
export class NoDownMigrationError extends MigrationRunnerError {
    readonly code = "NO_DOWN";
    readonly fix = "choose a --to at or above that migration, or write a new migration that undoes the change";

    constructor(readonly migration: string) {
        super(`${migration} has no down migration, so the tenant cannot go below it`);
    }
}

/** Explains drift the way the operator needs it: what changed and how to resolve it. */
export function describeDrift(drift: readonly Drift[]): string {
    const items = drift.map((d) =>
        d.kind === "changed"
            ? `${d.name} was edited after it was applied (checksum ${d.applied.slice(0, 12)} applied, ${d.local.slice(0, 12)} local)`
            : `${d.name} is applied but no longer exists locally`,
    );
    return `checksum drift: ${items.join("; ")}; refusing to migrate`;
}

/** How a migration ended the transaction the runner began for it (see runtime-guard.ts). */
export type EndedTransaction = "committed" | "rolled back" | "ended";

const ENDED: Record<EndedTransaction, string> = {
    committed: "a COMMIT of its own had committed the runner's transaction",
    "rolled back": "a ROLLBACK of its own had ended the runner's transaction, so what it ran afterwards ran outside any transaction",
    ended: "it had ended the runner's transaction itself (the server could not say whether committed or rolled back)",
};

/**
 * A migration ended the runner's transaction itself, so its changes and its bookkeeping row
 * were not one transaction: never "the tenant stays at its previous version".
 */
export class MigrationTransactionLostError extends MigrationRunnerError {
    readonly code = "TRANSACTION_LOST";
    readonly fix: string;

    /** `failure`: the migration's own error, when it failed after ending the transaction; without it, its row was refused. */
    constructor(
        readonly migration: string,
        readonly ended: EndedTransaction,
        failure?: string,
    ) {
        const what =
            failure === undefined
                ? `refusing to record ${migration}: ${ENDED[ended]} before its bookkeeping row`
                : `${failure}, after ${ENDED[ended]}`;
        super(
            `${what}; its changes may be partly applied outside that transaction, committed by the migration itself, ` +
                `and ${migration} has no row in tenantdb.migrations: the tenant needs attention`,
        );
        this.fix =
            `check by hand which changes of ${migration} are in the tenant's database and undo them (a re-run runs all of ${migration} again); ` +
            `remove what ended the transaction (a COMMIT or ROLLBACK, also one hidden from the parser by changing standard_conforming_strings), ` +
            "since the runner commits each migration together with its bookkeeping row; then re-run";
    }
}

/** Why a TypeScript migration's statement was refused (see guarded-client.ts). */
export type RefusedBecause = "transaction" | "lexing" | "unreadable";

const BECAUSE: Record<RefusedBecause, string> = {
    transaction: "the runner runs each migration in one transaction together with its bookkeeping row",
    lexing:
        "it changes how the server reads the text of later queries, which the runner checks with PostgreSQL's parser as the server reads them " +
        "with standard_conforming_strings on and UTF8",
    unreadable: "the runner cannot read its SQL text to check it for transaction control (pass the SQL as a string or as { text, values })",
};

/** A TypeScript migration sent, through its client, a statement that would defeat the runner's transaction; it was never sent. */
export class MigrationStatementRefusedError extends MigrationRunnerError {
    readonly code = "REFUSED_STATEMENT";
    readonly fix: string;

    constructor(
        readonly migration: string,
        readonly statement: string,
        because: RefusedBecause,
    ) {
        super(`${migration} sent "${statement}" through its client: refused before it reached the server, because ${BECAUSE[because]}`);
        this.fix = `remove the statement from ${migration}; the runner commits or rolls back each migration as a whole, and the tenant stays at its previous version`;
    }
}

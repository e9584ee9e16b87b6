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

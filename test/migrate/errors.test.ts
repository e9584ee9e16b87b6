import * as assert from "node:assert/strict";
import { MigrationError } from "umzug";
import { ErrorScope, TenantMigrationError } from "../../src/migrate/errors";
import { isRoleConnectionLimit } from "../../src/migrate/lock";
import {
    ChecksumMismatchError,
    MigrationDriftError,
    MigrationLockedError,
    MigrationRunnerError,
    MigratorConnectionsBusyError,
    NoDownMigrationError,
} from "../../src/migrate/runner-errors";

const scope: ErrorScope = {
    tenantId: "acme",
    server: "pg-1",
    host: "db1",
    port: 5432,
    database: "erp_acme",
    user: "erp_acme_migrator",
    step: "plan",
    secrets: [],
};
const edited = { name: "0002_b", kind: "changed", applied: "a".repeat(64), local: "b".repeat(64) } as const;
const vanished = { name: "0001_a", kind: "missing-locally" } as const;

describe("runner errors", () => {
    const cases: Array<[string, MigrationRunnerError, string, string, string]> = [
        [
            "a lock held too long",
            new MigrationLockedError("backend pid 7", 100),
            "MigrationLockedError",
            "LOCKED",
            "another runner (backend pid 7) held the migration lock for more than 100 ms",
        ],
        [
            "a migrator role at its connection limit for too long",
            new MigratorConnectionsBusyError("erp_acme_migrator", 1500),
            "MigratorConnectionsBusyError",
            "MIGRATOR_BUSY",
            "role erp_acme_migrator stayed at its connection limit for more than 1500 ms (other runners are migrating this tenant, or sessions of that role are open)",
        ],
        [
            "an edited file",
            MigrationDriftError.of([edited]),
            "ChecksumMismatchError",
            "DRIFT",
            `checksum drift: 0002_b was edited after it was applied (checksum ${"a".repeat(12)} applied, ${"b".repeat(12)} local); refusing to migrate`,
        ],
        [
            "an edited and a deleted file",
            MigrationDriftError.of([edited, vanished]),
            "MigrationDriftError",
            "DRIFT",
            `checksum drift: 0002_b was edited after it was applied (checksum ${"a".repeat(12)} applied, ${"b".repeat(12)} local); 0001_a is applied but no longer exists locally; refusing to migrate`,
        ],
        [
            "a migration without down",
            new NoDownMigrationError("0003_c"),
            "NoDownMigrationError",
            "NO_DOWN",
            "0003_c has no down migration, so the tenant cannot go below it",
        ],
    ];
    for (const [title, error, name, code, message] of cases) {
        it(`names ${title} by class, with the code reports show`, () => {
            assert.ok(error instanceof MigrationRunnerError && error instanceof Error);
            assert.deepEqual({ name: error.name, code: error.code, message: error.message }, { name, code, message });
        });
    }

    it("keeps a checksum mismatch a kind of drift, with the drift it found", () => {
        const error = MigrationDriftError.of([edited]);
        assert.ok(error instanceof ChecksumMismatchError && error instanceof MigrationDriftError);
        assert.deepEqual(error.drift, [edited]);
        assert.equal(MigrationDriftError.of([vanished]) instanceof ChecksumMismatchError, false);
    });

    it("explains a runner error with its fix and code, also when umzug wrapped it", () => {
        const wrapped = new MigrationError({ direction: "down", name: "0003_c", context: {} }, new NoDownMigrationError("0003_c"));
        const error = new TenantMigrationError({ ...scope, step: "revert 0003_c" }, wrapped);
        assert.equal(
            error.message,
            'tenant acme (server pg-1), step "revert 0003_c": 0003_c has no down migration, so the tenant cannot go below it. ' +
                "Fix: choose a --to at or above that migration, or write a new migration that undoes the change",
        );
        assert.equal(error.code, "NO_DOWN");
        assert.equal(error.cause, wrapped);
    });

    it("explains the driver error umzug wrapped, with its SQLSTATE", () => {
        const driver = Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014" });
        const wrapped = new MigrationError({ direction: "up", name: "0006_notes", context: {} }, driver);
        const error = new TenantMigrationError({ ...scope, step: "apply 0006_notes", statementTimeout: "200ms" }, wrapped);
        assert.equal(
            error.message,
            'tenant acme (server pg-1), step "apply 0006_notes": ran longer than statement_timeout (200ms): canceling statement due to statement timeout. ' +
                "Fix: raise statement_timeout in the migration's header, or make the migration cheaper (e.g. batch a data change)",
        );
        assert.equal(error.code, "57014");
    });

    // 53300 at login, from the three limits PostgreSQL checks (the routine is what the server reports).
    const limits: Array<[string, Record<string, string>, string]> = [
        [
            "the database's CONNECTION LIMIT",
            { routine: "CheckMyDatabase", message: 'too many connections for database "erp_acme"' },
            "Fix: database erp_acme is at its CONNECTION LIMIT (the tenant's app and readonly sessions); re-run when some have ended, or raise the tenant's connectionLimit in the stack config",
        ],
        [
            "the server's max_connections",
            { routine: "InitProcess", message: "sorry, too many clients already" },
            "Fix: server pg-1 is at max_connections; lower --concurrency or --per-server, or re-run when its load drops",
        ],
    ];
    for (const [title, fields, fix] of limits) {
        it(`names a fix that works when a login meets ${title}`, () => {
            const driver = Object.assign(new Error(fields.message), { code: "53300", routine: fields.routine });
            const error = new TenantMigrationError({ ...scope, step: "connect" }, driver);
            assert.equal(error.message, `tenant acme (server pg-1), step "connect": ${fields.message}. ${fix}`);
        });
    }

    it("tells a migrator role at its connection limit from the other 53300s, by routine or by message", () => {
        const role = (fields: object) => isRoleConnectionLimit(Object.assign(new Error("x"), { code: "53300" }, fields));
        assert.deepEqual(
            [
                role({ routine: "InitializeSessionUserId" }),
                role({ message: 'too many connections for role "erp_acme_migrator"' }),
                role({ routine: "CheckMyDatabase", message: 'too many connections for database "erp_acme"' }),
                role({ routine: "InitProcess" }),
                isRoleConnectionLimit({ code: "28P01", routine: "InitializeSessionUserId" }),
            ],
            [true, true, false, false, false],
        );
    });
});

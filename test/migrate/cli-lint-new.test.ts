/**
 * `tenantdb migrate lint` and `migrate new`, through the real bin: offline (no database), exact
 * findings with file and line, --json shapes and exit codes.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadCatalog } from "../../src/migrate/catalog";

const BIN = path.resolve(__dirname, "../../bin/tenantdb.cjs");

function migrate(args: string[], cwd: string) {
    const run = spawnSync(process.execPath, [BIN, "migrate", ...args], {
        cwd,
        env: { ...process.env, CI: "1", NO_COLOR: "1" },
        encoding: "utf8",
        timeout: 60_000,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const RISKY = `-- migrate:up
CREATE TABLE core.notes (id int PRIMARY KEY, body text);
CREATE INDEX notes_body ON core.notes (body);
ALTER TABLE core.notes ADD COLUMN author text NOT NULL;
ALTER TABLE core.users ADD COLUMN nick text NOT NULL, ALTER COLUMN email TYPE varchar(300);
ALTER TABLE core.users ADD COLUMN plan text NOT NULL DEFAULT 'basic';
-- tenantdb:lint-ignore drop unused since v2, backed up
ALTER TABLE core.users DROP COLUMN legacy;
CREATE INDEX users_nick ON core.users (nick);
ALTER TABLE core.users ALTER COLUMN nick SET NOT NULL;
-- tenantdb:lint-ignore drop
DROP TABLE core.old;
DO $$ BEGIN PERFORM 1; END $$;
COMMIT;
-- migrate:down
DROP TABLE core.notes;
`;

describe("tenantdb migrate lint and new (CLI)", function () {
    this.timeout(120_000);
    let work: string;

    before(() => {
        work = mkdtempSync(path.join(os.tmpdir(), "tenantdb-lint-"));
        writeFileSync(path.join(work, "0005_risky.sql"), RISKY);
        writeFileSync(
            path.join(work, "0006_safe.sql"),
            "-- migrate:up\nCREATE TABLE core.safe (id int);\nCREATE INDEX safe_id ON core.safe (id);\n",
        );
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    it("flags each destructive or locking statement of an up section with file and line, exit 1", () => {
        const run = migrate(["lint", "0005_risky.sql"], work);
        assert.equal(run.status, 1);
        assert.equal(run.stderr, "");
        const lines = run.stdout.trimEnd().split("\n");
        assert.deepEqual(
            lines.map((line) => line.split(": ").slice(0, 2).join(": ")),
            [
                "0005_risky.sql:5: add-column-not-null",
                "0005_risky.sql:5: alter-column-type",
                "0005_risky.sql:9: create-index-locks",
                "0005_risky.sql:10: set-not-null",
                "0005_risky.sql:12: drop",
                "0005_risky.sql:14: transaction-control",
                "1 file(s): 6 finding(s), 1 accepted with tenantdb:lint-ignore",
            ],
        );
        assert.equal(
            lines[2],
            "0005_risky.sql:9: create-index-locks: CREATE INDEX on core.users blocks writes to the table for the whole index build. " +
                "CREATE INDEX CONCURRENTLY cannot run inside a transaction and tenantdb runs every migration in one (there are no non-transactional migrations). " +
                "Fix: schedule this migration in a maintenance window, or accept it with -- tenantdb:lint-ignore create-index-locks <reason> for a small table",
        );
    });

    it("--json: files, findings (file, line, rule, statement, message), ignored with their reason, skipped", () => {
        const run = migrate(["lint", "--json", "0005_risky.sql", "0006_safe.sql"], work);
        assert.equal(run.status, 1);
        const report = JSON.parse(run.stdout) as {
            files: string[];
            findings: Array<Record<string, unknown>>;
            ignored: Array<Record<string, unknown>>;
            skipped: string[];
        };
        assert.deepEqual(Object.keys(report), ["files", "findings", "ignored", "skipped"]);
        assert.deepEqual(report.files, ["0005_risky.sql", "0006_safe.sql"]);
        assert.deepEqual(report.skipped, []);
        assert.deepEqual(Object.keys(report.findings[0]), ["file", "line", "rule", "statement", "message"]);
        assert.deepEqual(report.findings[0], {
            file: "0005_risky.sql",
            line: 5,
            rule: "add-column-not-null",
            statement: "ALTER TABLE core.users ADD COLUMN nick",
            message:
                "ADD COLUMN core.users.nick NOT NULL fails on a table with rows (NOT NULL without a DEFAULT). Fix: add the column with a DEFAULT " +
                "(PostgreSQL 11+ adds it without a rewrite), or add it nullable, backfill, then SET NOT NULL",
        });
        assert.deepEqual(
            report.ignored.map((f) => [f.line, f.rule, f.reason]),
            [[8, "drop", "unused since v2, backed up"]],
        );
    });

    it("passes a file whose index and NOT NULL column are on a table it creates, and the shipped migrations: exit 0", () => {
        assert.deepEqual(migrate(["lint", "0006_safe.sql"], work), { status: 0, stdout: "1 file(s): 0 finding(s)\n", stderr: "" });
        const shipped = migrate(["lint", "--json"], work);
        assert.equal(shipped.status, 0, shipped.stdout);
        const report = JSON.parse(shipped.stdout) as { files: string[]; findings: unknown[]; skipped: string[] };
        assert.equal(report.files.length, 4);
        assert.deepEqual(report.findings, []);
        assert.deepEqual(
            report.skipped.map((file) => path.basename(file)),
            ["0003_first_company.ts", "0004_credentials_withheld.ts"],
        );
    });

    it("--since <ref>: only the migration files changed since the ref, and untracked ones", () => {
        const repo = mkdtempSync(path.join(os.tmpdir(), "tenantdb-lint-git-"));
        try {
            const git = (...args: string[]) =>
                execFileSync("git", ["-c", "user.email=t@t.test", "-c", "user.name=t", ...args], { cwd: repo });
            git("init", "-q");
            writeFileSync(path.join(repo, "0001_old.sql"), "-- migrate:up\nDROP TABLE core.a;\n");
            git("add", ".");
            git("commit", "-qm", "old");
            writeFileSync(path.join(repo, "0002_new.sql"), "-- migrate:up\nDROP TABLE core.b;\n");
            const run = migrate(["lint", "--since", "HEAD", "--migrations", repo, "--json"], repo);
            assert.equal(run.status, 1);
            const report = JSON.parse(run.stdout) as { files: string[]; findings: Array<{ file: string; rule: string }> };
            assert.deepEqual(report.files, ["0002_new.sql"]);
            assert.deepEqual(
                report.findings.map((f) => [f.file, f.rule]),
                [["0002_new.sql", "drop"]],
            );
            const bad = migrate(["lint", "--since", "no-such-ref", "--migrations", repo], repo);
            assert.equal(bad.status, 1);
            assert.match(bad.stderr, /^migrate: --since no-such-ref: git diff failed in .*: fatal: bad revision 'no-such-ref'\n$/);
        } finally {
            rmSync(repo, { recursive: true, force: true });
        }
    });

    it("new <name> writes the next number with up/down sections and prints its path; the loader reads it once it has SQL", () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-new-"));
        try {
            writeFileSync(path.join(dir, "0007_existing.sql"), "-- migrate:up\nSELECT 1;\n");
            const run = migrate(["new", "add_invoice_notes", "--migrations", dir, "--json"], dir);
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(JSON.parse(run.stdout), { file: "0008_add_invoice_notes.sql" });
            assert.equal(
                run.stderr,
                "write its up section (and a down section if it can be undone), then: tenantdb migrate lint 0008_add_invoice_notes.sql\n",
            );
            const file = path.join(dir, "0008_add_invoice_notes.sql");
            const text = readFileSync(file, "utf8");
            assert.match(text, /^-- tenantdb: lock_timeout=5s statement_timeout=5min\n\n-- migrate:up\n\n\n-- migrate:down\n$/m);
            writeFileSync(file, text.replace("-- migrate:up\n", "-- migrate:up\nCREATE TABLE core.invoice_notes (id int);\n"));
            const loaded = loadCatalog(dir, {}).migrations.find((m) => m.name === "0008_add_invoice_notes");
            assert.deepEqual(
                [loaded?.hasDown, loaded?.lockTimeout, loaded?.upSql?.trim()],
                [false, "5s", "CREATE TABLE core.invoice_notes (id int);"],
            );

            assert.deepEqual(migrate(["new", "next_one", "--migrations", dir], dir), {
                status: 0,
                stdout: "0009_next_one.sql\n",
                stderr: "write its up section (and a down section if it can be undone), then: tenantdb migrate lint 0009_next_one.sql\n",
            });
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    for (const name of ["Add-Notes", "0005_notes", "notes__x", "notes_", "x".repeat(61)]) {
        it(`new refuses the name ${JSON.stringify(name.slice(0, 12))} with how to write one, exit 1, no file`, () => {
            const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-new-"));
            try {
                const run = migrate(["new", name, "--migrations", dir], dir);
                assert.equal(run.status, 1);
                assert.equal(run.stdout, "");
                assert.match(
                    run.stderr,
                    /^migrate: migration name ".*" is not lower_snake_case: use a lower-case letter, then up to 59 lower-case letters, digits and single underscores \(e\.g\. add_invoice_notes\); the number is added for you\n$/,
                );
                assert.deepEqual(execFileSync("ls", [dir], { encoding: "utf8" }), "");
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });
    }
});

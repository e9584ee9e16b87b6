import * as assert from "node:assert/strict";
import { Client } from "pg";
import { codeMigrations } from "../../migrations";
import { loadCatalog } from "../../src/migrate/catalog";
import { fingerprintOf } from "../../src/migrate/fingerprint";
import { fleetFailed, runFleet } from "../../src/migrate/fleet";
import { guardedClient } from "../../src/migrate/guarded-client";
import { MigrationStatementRefusedError } from "../../src/migrate/runner-errors";
import type { TenantTarget } from "../../src/migrate/targets";
import type { CodeMigration } from "../../src/migrate/types";
import { dropDeclaredTenant } from "../support/declared-tenants";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";

const BASE = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];
const LOST_FIX =
    "check by hand which changes of 0005_hidden are in the tenant's database and undo them (a re-run runs all of 0005_hidden again); " +
    "remove what ended the transaction (a COMMIT or ROLLBACK, also one hidden from the parser by changing standard_conforming_strings), " +
    "since the runner commits each migration together with its bookkeeping row; then re-run";
const LOST_STATE =
    "its changes may be partly applied outside that transaction, committed by the migration itself, " +
    "and 0005_hidden has no row in tenantdb.migrations: the tenant needs attention";

/** Creates a table, then COMMITs through its client, then fails: the client must refuse the COMMIT. */
const commits: CodeMigration = {
    async up({ client }) {
        await client.query("CREATE TABLE core.rt_marker (id int)");
        await client.query("COMMIT");
        await client.query("SELECT 1 / 0");
    },
};

/**
 * Gets a COMMIT past the client's parser: with standard_conforming_strings off (through set_config,
 * which no parser can see), the server reads `'x\''` as a whole string and runs the COMMIT after it.
 */
const hidden = (failAfter: boolean): CodeMigration => ({
    async up({ client }) {
        await client.query("CREATE TABLE core.rt_marker (id int)");
        await client.query("SELECT set_config('standard_conforming_strings', 'off', false)");
        await client.query("SELECT 'x\\''; COMMIT; --'");
        if (failAfter) await client.query("SELECT 1 / 0");
    },
});

/** The same trick with a ROLLBACK, after which the migration's statements run outside any transaction, each committed at once. */
const rollsBack: CodeMigration = {
    async up({ client }) {
        await client.query("SELECT set_config('standard_conforming_strings', 'off', false)");
        await client.query("SELECT 'x\\''; ROLLBACK; --'");
        await client.query("CREATE TABLE core.rt_marker (id int)");
        await client.query("SELECT 1 / 0");
    },
};

/** The colleague's attack on SQL files: the parser sees one SELECT, a server with the setting off runs a COMMIT. */
const SCS_OFF = "-- migrate:up\nSET standard_conforming_strings = off;\n";
const SCS_COMMIT = "-- migrate:up\nSELECT 'x\\''; CREATE TABLE core.rt_marker (id int); COMMIT; SELECT 1/0; --'\n";

/** The tenant's rows, whether its fingerprint matches them, and whether the migrations' table exists. */
async function stateOf(database: string): Promise<{ applied: string[]; fingerprintCurrent: boolean; marker: string | null }> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        const rows = (await client.query("SELECT name, checksum FROM tenantdb.migrations ORDER BY name")).rows;
        const { rows: found } = await client.query(
            "SELECT shobj_description(oid, 'pg_database') AS comment, to_regclass('core.rt_marker')::text AS marker " +
                "FROM pg_database WHERE datname = current_database()",
        );
        return { applied: rows.map((r) => r.name), fingerprintCurrent: found[0].comment === fingerprintOf(rows), marker: found[0].marker };
    } finally {
        await client.end();
    }
}

describe("migration runtime guard: a migration cannot end the runner's transaction unnoticed, on a real server", function () {
    this.timeout(60_000);
    const ids = ["mig_rt_code", "mig_rt_lost_fail", "mig_rt_lost_ok", "mig_rt_rollback", "mig_rt_scs"];
    const seed = seedFor(ids);
    let t: Record<string, TenantTarget>;

    before(async () => {
        const fixtures = await createTenants(adminServer(), ids, 1);
        t = Object.fromEntries(fixtures.map((f) => [f.tenantId, targetOf(adminServer(), f)]));
        const base = await runFleet(Object.values(t), { mode: "up", seed });
        assert.equal(base.counts.ok, ids.length);
    });
    after(async () => {
        removeMigrationDirs();
        for (const id of ids) await dropDeclaredTenant(adminServer(), id);
    });

    const runWith = async (target: TenantTarget, files: Record<string, string>, code: Record<string, CodeMigration> = {}) => {
        const catalog = loadCatalog(migrationsWith(files), { ...codeMigrations, ...code });
        const report = await runFleet([target], { mode: "up", seed, catalog });
        return { report, result: report.tenants[0] };
    };

    it("refuses a TypeScript migration's COMMIT before it reaches the server: failed, and nothing of the migration remains", async () => {
        const { report, result } = await runWith(t.mig_rt_code, { "0005_commits.ts": "export {};\n" }, { "0005_commits": commits });
        assert.equal(fleetFailed(report), true);
        assert.deepEqual({ outcome: result.outcome, from: result.from, to: result.to }, { outcome: "failed", from: BASE[3], to: BASE[3] });
        assert.equal(
            result.error,
            'tenant mig_rt_code (server local), step "apply 0005_commits": 0005_commits sent "COMMIT" through its client: refused before ' +
                "it reached the server, because the runner runs each migration in one transaction together with its bookkeeping row. " +
                "Fix: remove the statement from 0005_commits; the runner commits or rolls back each migration as a whole, " +
                "and the tenant stays at its previous version",
        );
        assert.deepEqual(await stateOf(t.mig_rt_code.database), { applied: BASE, fingerprintCurrent: true, marker: null });
    });

    it("reports a migration that COMMITted past the client and then failed as half-applied, not as rolled back", async () => {
        const { report, result } = await runWith(t.mig_rt_lost_fail, { "0005_hidden.ts": "export {};\n" }, { "0005_hidden": hidden(true) });
        assert.equal(fleetFailed(report), true);
        assert.deepEqual({ outcome: result.outcome, from: result.from, to: result.to }, { outcome: "failed", from: BASE[3], to: BASE[3] });
        assert.equal(
            result.error,
            'tenant mig_rt_lost_fail (server local), step "apply 0005_hidden": division by zero, after a COMMIT of its own had committed ' +
                `the runner's transaction; ${LOST_STATE}. Fix: ${LOST_FIX}`,
        );
        assert.doesNotMatch(result.error!, /stays at its previous version/);
        // The truth the message tells: the table was committed by the migration, without a row.
        assert.deepEqual(await stateOf(t.mig_rt_lost_fail.database), { applied: BASE, fingerprintCurrent: true, marker: "core.rt_marker" });
    });

    it("refuses to record a migration that COMMITted past the client and then succeeded: no row, no fingerprint", async () => {
        const { report, result } = await runWith(t.mig_rt_lost_ok, { "0005_hidden.ts": "export {};\n" }, { "0005_hidden": hidden(false) });
        assert.equal(fleetFailed(report), true);
        assert.deepEqual({ outcome: result.outcome, from: result.from, to: result.to }, { outcome: "failed", from: BASE[3], to: BASE[3] });
        assert.equal(
            result.error,
            'tenant mig_rt_lost_ok (server local), step "apply 0005_hidden": refusing to record 0005_hidden: a COMMIT of its own had ' +
                `committed the runner's transaction before its bookkeeping row; ${LOST_STATE}. Fix: ${LOST_FIX}`,
        );
        // Neither the row nor the fingerprint were written outside the transaction: the comment is still the base's.
        assert.deepEqual(await stateOf(t.mig_rt_lost_ok.database), { applied: BASE, fingerprintCurrent: true, marker: "core.rt_marker" });
    });

    it("reports a migration that rolled back past the client and ran on outside any transaction as half-applied", async () => {
        const { report, result } = await runWith(t.mig_rt_rollback, { "0005_hidden.ts": "export {};\n" }, { "0005_hidden": rollsBack });
        assert.equal(fleetFailed(report), true);
        assert.deepEqual({ outcome: result.outcome, from: result.from, to: result.to }, { outcome: "failed", from: BASE[3], to: BASE[3] });
        assert.equal(
            result.error,
            'tenant mig_rt_rollback (server local), step "apply 0005_hidden": division by zero, after a ROLLBACK of its own had ended the ' +
                `runner's transaction, so what it ran afterwards ran outside any transaction; ${LOST_STATE}. Fix: ${LOST_FIX}`,
        );
        assert.deepEqual(await stateOf(t.mig_rt_rollback.database), { applied: BASE, fingerprintCurrent: true, marker: "core.rt_marker" });
    });

    it("has the server read a SQL migration as the parser did, after one that turned standard_conforming_strings off", async () => {
        const { report, result } = await runWith(t.mig_rt_scs, { "0005_scs_off.sql": SCS_OFF, "0006_scs_commit.sql": SCS_COMMIT });
        assert.equal(fleetFailed(report), false);
        assert.deepEqual(
            { outcome: result.outcome, applied: result.applied, to: result.to, error: result.error },
            { outcome: "ok", applied: ["0005_scs_off", "0006_scs_commit"], to: "0006_scs_commit", error: undefined },
        );
        // 0005 ran as the one SELECT of a string it is: no COMMIT, no table.
        assert.deepEqual(await stateOf(t.mig_rt_scs.database), {
            applied: [...BASE, "0005_scs_off", "0006_scs_commit"],
            fingerprintCurrent: true,
            marker: null,
        });
    });

    it("sends nothing the client refuses: the connection's transaction and settings stay as they were", async () => {
        const raw = new Client({ ...adminServer(), database: t.mig_rt_code.database });
        await raw.connect();
        try {
            const client = guardedClient(raw, "0009_probe");
            const { rows: begun } = await raw.query("BEGIN; SELECT pg_current_xact_id()::text AS xid").then((r) => [r].flat()[1]);
            const refused: Array<[unknown, string]> = [
                ["COMMIT", "COMMIT"],
                ["  rollback work ;", "rollback work"],
                ["SELECT 1; SAVEPOINT s", "SAVEPOINT s"],
                [{ text: "END" }, "END"],
                ["SET standard_conforming_strings = off", "SET standard_conforming_strings ="],
                ["SET SESSION client_encoding TO 'SJIS'", "SET SESSION client_encoding"],
                ["SET NAMES 'SJIS'", "SET NAMES 'SJIS'"],
                ["RESET ALL", "RESET ALL"],
                // PostgreSQL 18's grammar refuses this column name (15 accepts it): the lexer still finds the COMMIT.
                ["CREATE TABLE core.rt_probe (system_user int); COMMIT", "COMMIT"],
            ];
            for (const [query, statement] of refused) {
                await assert.rejects(client.query(query as string), (error: unknown) => {
                    assert.ok(error instanceof MigrationStatementRefusedError);
                    assert.equal(error.statement, statement);
                    return true;
                });
            }
            await assert.rejects(
                client.query("SET standard_conforming_strings = off"),
                new RegExp(
                    '^MigrationStatementRefusedError: 0009_probe sent "SET standard_conforming_strings =" through its client: refused before it ' +
                        "reached the server, because it changes how the server reads the text of later queries, which the runner checks with " +
                        "PostgreSQL's parser as the server reads them with standard_conforming_strings on and UTF8$",
                ),
            );
            const viaCallback = await new Promise<Error | undefined>((resolve) =>
                client.query("COMMIT", (error: Error | undefined) => resolve(error)),
            );
            assert.ok(viaCallback instanceof MigrationStatementRefusedError);

            // Allowed: ordinary statements, with parameters, and a COMMIT that is only a string or a plpgsql body.
            assert.deepEqual((await client.query("SELECT $1::text AS v", ["COMMIT"])).rows, [{ v: "COMMIT" }]);
            await client.query("DO $$ BEGIN PERFORM 1; END $$");
            const { rows } = await raw.query(
                "SELECT pg_current_xact_id()::text AS xid, current_setting('standard_conforming_strings') AS scs, " +
                    "current_setting('client_encoding') AS encoding",
            );
            assert.deepEqual(rows, [{ xid: begun[0].xid, scs: "on", encoding: "UTF8" }]);
            assert.equal(raw.getTransactionStatus(), "T");
        } finally {
            await raw.end();
        }
    });
});

import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { MigrationError, Umzug } from "umzug";
import { Catalog, checksumOf, loadCatalog } from "../../src/migrate/catalog";
import { NoDownMigrationError } from "../../src/migrate/runner-errors";
import { fingerprintOf } from "../../src/migrate/fingerprint";
import { migrateWithUmzug } from "../../src/migrate/migrator";
import type { PlanRequest } from "../../src/migrate/plan";
import { MigrationsTable } from "../../src/migrate/storage";
import type { RunCursor } from "../../src/migrate/tenant";
import type { CodeMigration } from "../../src/migrate/types";
import { dropDeclaredTenant, TenantFixture } from "../support/declared-tenants";
import { adminServer, createTenants } from "../support/migration-targets";

const TENANT = "mig_storage";
const DATABASE = `erp_${TENANT}`;
const ALPHA = "-- migrate:up\nCREATE TABLE core.storage_alpha (id int);\n-- migrate:down\nDROP TABLE core.storage_alpha;\n";
const FAILING = "-- migrate:up\nCREATE TABLE core.storage_beta (id int);\nSELECT 1 / 0;\n";
/** Succeeds, but makes its own bookkeeping row impossible to write. */
const UNRECORDABLE =
    "-- migrate:up\nCREATE TABLE core.storage_beta (id int);\nALTER TABLE tenantdb.migrations ADD CONSTRAINT no_beta CHECK (name <> '0002_beta');\n";

/** What an observer on another connection sees: committed state only. */
interface Committed {
    rows: Array<{ name: string; checksum: string; applied_by: string }>;
    tables: string[];
    fingerprint: string | null;
}

describe("MigrationsTable: umzug's storage, in each migration's transaction", function () {
    this.timeout(60_000);
    let fixture: TenantFixture;
    let client: Client;
    let observer: Client;
    let folder: string;

    const committed = async (): Promise<Committed> => {
        const schema = await observer.query("SELECT to_regclass('tenantdb.migrations') IS NOT NULL AS present");
        const rows = schema.rows[0].present
            ? (await observer.query("SELECT name, checksum, applied_by FROM tenantdb.migrations ORDER BY name")).rows
            : [];
        const tables = await observer.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'core' AND tablename LIKE 'storage_%' ORDER BY 1",
        );
        const comment = await observer.query("SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1", [
            DATABASE,
        ]);
        return { rows, tables: tables.rows.map((r) => r.tablename), fingerprint: comment.rows[0].c };
    };
    /** A catalog of `files` (and `code` migrations) and its storage, with the table created. */
    const tableWith = async (files: Record<string, string>, code: Record<string, CodeMigration> = {}) => {
        for (const [name, text] of Object.entries(files)) writeFileSync(path.join(folder, name), text);
        const catalog = loadCatalog(folder, code);
        const storage = new MigrationsTable(client, catalog);
        await storage.ensureTable();
        return { catalog, storage };
    };
    const row = (name: string, text: string) => ({ name, checksum: checksumOf(text), applied_by: fixture.names.migratorRole });
    const fingerprint = (...files: Array<[string, string]>) =>
        fingerprintOf(files.map(([name, text]) => ({ name, checksum: checksumOf(text) })));
    /** 0001_alpha applied, committed with its row and fingerprint, and nothing else. */
    const alphaOnly = (): Committed => ({
        rows: [row("0001_alpha", ALPHA)],
        tables: ["storage_alpha"],
        fingerprint: fingerprint(["0001_alpha", ALPHA]),
    });
    const context = () => ({ client, tenantId: TENANT });
    const migrate = (catalog: Catalog, storage: MigrationsTable, request: PlanRequest, cursor: RunCursor = { step: "lock" }) =>
        migrateWithUmzug({ catalog, request, storage, context: context(), cursor });

    before(async () => {
        [fixture] = await createTenants(adminServer(), [TENANT]);
        observer = new Client({ ...adminServer(), database: DATABASE });
        await observer.connect();
    });
    beforeEach(async () => {
        folder = mkdtempSync(path.join(os.tmpdir(), "tenantdb-storage-"));
        await observer.query(`DROP SCHEMA IF EXISTS tenantdb CASCADE; DROP TABLE IF EXISTS core.storage_alpha, core.storage_beta, core.storage_gamma;
            COMMENT ON DATABASE ${DATABASE} IS NULL`);
        client = new Client({
            ...adminServer(),
            user: fixture.names.migratorRole,
            password: fixture.passwords.migrator,
            database: DATABASE,
        });
        await client.connect();
        await client.query(`SET ROLE ${fixture.names.ownerRole}`);
    });
    afterEach(async () => {
        await client.end();
        rmSync(folder, { recursive: true, force: true });
    });
    after(async () => {
        await observer.end();
        await dropDeclaredTenant(adminServer(), TENANT);
    });

    it("commits a migration, its row and the fingerprint together, and nothing before", async () => {
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA });
        assert.deepEqual(await storage.executed(), []);

        await storage.begin(catalog.migrations[0], catalog.migrations[0].upSql);
        assert.deepEqual(await committed(), { rows: [], tables: [], fingerprint: null });
        await storage.logMigration({ name: "0001_alpha", context: context() });

        assert.deepEqual(await committed(), alphaOnly());
        assert.deepEqual(await storage.executed(), ["0001_alpha"]);
        assert.equal(storage.version, "0001_alpha");
    });

    it("leaves neither the changes nor the row of a failing migration, keeping the ones before it", async () => {
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA, "0002_beta.sql": FAILING });
        const cursor: RunCursor = { step: "lock" };

        await assert.rejects(migrate(catalog, storage, { mode: "up" }, cursor), (error: unknown) => {
            assert.ok(error instanceof MigrationError);
            assert.equal(error.message, "Migration 0002_beta (up) failed: Original error: division by zero");
            assert.equal((error.cause as { code?: string }).code, "22012");
            return true;
        });

        assert.deepEqual(await committed(), alphaOnly());
        assert.deepEqual(
            { step: cursor.step, applied: cursor.applied, reached: cursor.reached, line: cursor.line },
            {
                step: "apply 0002_beta",
                applied: ["0001_alpha"],
                reached: "0001_alpha",
                line: 1,
            },
        );
        // The connection is usable again: the failed transaction was rolled back, not left aborted.
        assert.deepEqual((await client.query("SELECT 1 AS one")).rows, [{ one: 1 }]);
    });

    it("rolls back what a TypeScript migration wrote before it threw", async () => {
        const gamma: CodeMigration = {
            async up({ client: tenant }) {
                await tenant.query("CREATE TABLE core.storage_gamma (id int)");
                throw new Error("gamma gave up");
            },
        };
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA, "0003_gamma.ts": "export {}" }, { "0003_gamma": gamma });

        await assert.rejects(
            migrate(catalog, storage, { mode: "up" }),
            /Migration 0003_gamma \(up\) failed: Original error: gamma gave up/,
        );
        assert.deepEqual(await committed(), alphaOnly());
    });

    it("rolls a migration back when its own row cannot be written", async () => {
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA, "0002_beta.sql": UNRECORDABLE });

        await assert.rejects(migrate(catalog, storage, { mode: "up" }), (error: Error & { code?: string }) => {
            assert.equal(error.code, "23514");
            assert.match(error.message, /^new row for relation "migrations" violates check constraint "no_beta"$/);
            return true;
        });

        assert.deepEqual(await committed(), alphaOnly());
        const constraints = await observer.query(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'tenantdb.migrations'::regclass AND contype = 'c'",
        );
        assert.deepEqual(constraints.rows, []);
    });

    it("refuses to record a migration outside its own transaction, and to open two", async () => {
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA });
        await storage.executed();

        await assert.rejects(
            storage.logMigration({ name: "0001_alpha", context: context() }),
            /^Error: refusing to record 0001_alpha outside its own transaction \(open: none\)$/,
        );
        await storage.begin(catalog.migrations[0], catalog.migrations[0].upSql);
        await assert.rejects(
            storage.begin(catalog.migrations[0]),
            /^Error: cannot begin 0001_alpha: the transaction of 0001_alpha is still open$/,
        );
        assert.equal(await storage.rollbackOpen(), "0001_alpha");
        assert.equal(await storage.rollbackOpen(), undefined);
        assert.deepEqual(await committed(), { rows: [], tables: [], fingerprint: null });
    });

    it("reverts a migration and deletes its row together", async () => {
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA });
        const cursor: RunCursor = { step: "lock" };
        assert.deepEqual(await migrate(catalog, storage, { mode: "up" }, cursor), ["0001_alpha"]);

        assert.deepEqual(await migrate(catalog, storage, { mode: "down" }, cursor), ["0001_alpha"]);
        assert.deepEqual(await committed(), { rows: [], tables: [], fingerprint: fingerprintOf([]) });
        assert.deepEqual(
            { step: cursor.step, reverted: cursor.reverted, reached: cursor.reached },
            { step: "revert 0001_alpha", reverted: ["0001_alpha"], reached: null },
        );
    });

    it("refuses to revert a migration without a down section, keeping it and its row", async () => {
        const beta = "-- migrate:up\nCREATE TABLE core.storage_beta (id int);\n";
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA, "0002_beta.sql": beta });
        await migrate(catalog, storage, { mode: "up" });

        // Past runTenant's check: umzug alone would count a missing down as done and drop the row.
        await assert.rejects(migrate(catalog, storage, { mode: "down", to: "0" }), (error: unknown) => {
            assert.ok(error instanceof MigrationError && error.cause instanceof NoDownMigrationError);
            assert.equal(
                error.message,
                "Migration 0002_beta (down) failed: Original error: 0002_beta has no down migration, so the tenant cannot go below it",
            );
            return true;
        });
        const both = [
            ["0001_alpha", ALPHA],
            ["0002_beta", beta],
        ] as Array<[string, string]>;
        assert.deepEqual(await committed(), {
            rows: both.map(([name, text]) => row(name, text)),
            tables: ["storage_alpha", "storage_beta"],
            fingerprint: fingerprint(...both),
        });
    });

    it("works as a storage of a plain umzug", async () => {
        const { catalog, storage } = await tableWith({ "0001_alpha.sql": ALPHA });
        const umzug = new Umzug({
            migrations: [{ name: "0001_alpha", up: () => storage.begin(catalog.migrations[0], catalog.migrations[0].upSql) }],
            storage,
            context: context(),
            logger: undefined,
        });
        assert.deepEqual(await umzug.pending(), [{ name: "0001_alpha", path: undefined }]);
        await umzug.up();
        assert.deepEqual(await umzug.executed(), [{ name: "0001_alpha", path: undefined }]);
        assert.deepEqual((await committed()).rows, [row("0001_alpha", ALPHA)]);
    });
});

/**
 * A seeded tenant goes to a real S3-compatible server and comes back: every table equal row
 * for row, sequences, owners, privileges, connection limit and settings as before, the
 * tenant's login roles working, and the previous database kept under its before-restore name.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Client, escapeIdentifier as id } from "pg";
import { backupTenant } from "../../src/backup/backup";
import { readDatabaseSnapshot, readObjectSnapshot } from "../../src/backup/catalog";
import { drill } from "../../src/backup/drill";
import { listBackups } from "../../src/backup/list";
import { dropPreviousDatabase, dropWarning, listPreviousDatabases, restoreTenant } from "../../src/backup/restore";
import { tenantNames } from "../../src/naming";
import {
    createDeclaredTenant as createTenantDatabase,
    dropDeclaredTenant as dropTenantDatabase,
    TenantFixture,
} from "../support/declared-tenants";
import {
    S3Fixture,
    TEST_KMS_KEY,
    adminConfig,
    allowsConnections,
    dropExtraDatabases,
    fingerprints,
    s3Target,
    seedErpTenant,
    startS3,
    storeFor,
    tenantDatabases,
    withDatabase,
    testSigningKey,
} from "./helpers";

const TENANT = "bak_roundtrip";
const BUCKET = "tenant-bak-roundtrip";
const names = tenantNames(TENANT);

/** Exact row counts the seed creates (scale 1). */
const SEEDED_COUNTS = {
    "audit.events": 250,
    "core.companies": 3,
    "finance.accounts": 4,
    "finance.journal_lines": 400,
    "inventory.stock_moves": 300,
    "masters.customers": 200,
    "masters.items": 150,
    "sales.order_lines": 1000,
    "sales.orders": 250,
    "tenantdb.migrations": 2,
};

describe("backup round trip (real PostgreSQL, s3rver)", function () {
    this.timeout(60_000);
    let s3: S3Fixture;
    let fixture: TenantFixture;

    before(async () => {
        s3 = await startS3();
        await s3.createBucket(BUCKET);
        await dropTenantDatabase(adminConfig(), TENANT);
        fixture = await createTenantDatabase(adminConfig(), TENANT, { connectionLimit: 40 });
        await seedErpTenant(TENANT);
    });

    after(async () => {
        await dropExtraDatabases(TENANT);
        await dropTenantDatabase(adminConfig(), TENANT);
        await s3?.stop();
    });

    it("backs up, restores into a new database, verifies and switches names; the data, grants and settings come back exactly", async () => {
        const target = s3Target(TENANT, BUCKET);
        const options = { storeFor: storeFor(s3), signingKey: testSigningKey };
        const before = await fingerprints(names.database);
        const objectsBefore = await withDatabase(names.database, readObjectSnapshot);
        const databaseBefore = await withDatabase("postgres", (admin) => readDatabaseSnapshot(admin, names.database));
        assert.equal(Object.keys(before).length, 17, "10 tables and 7 sequences are fingerprinted");

        // Backup: a dump and a manifest, SSE-KMS with the tenant's key, the manifest matching the bytes stored.
        const startedAt = new Date("2031-05-04T02:00:00.123Z");
        const backup = await backupTenant(target, { ...options, now: () => startedAt });
        assert.equal(backup.key, "backups/bak_roundtrip/20310504T020000.123Z.dump");
        const m = backup.manifest;
        assert.deepEqual(m.tables, SEEDED_COUNTS);
        assert.equal(m.tenantId, TENANT);
        assert.equal(m.database, "erp_bak_roundtrip");
        assert.equal(m.server, "test");
        assert.equal(m.schemaVersion, "0002_reference_data");
        assert.equal(m.migrationsApplied, 2);
        assert.equal(m.serverVersionNum >= 150000, true);
        assert.equal(m.startedAt, "2031-05-04T02:00:00.123Z");
        const stored = await s3.getBytes(BUCKET, backup.key);
        assert.equal(m.sizeBytes, stored.length);
        assert.equal(m.sha256, createHash("sha256").update(stored).digest("hex"));
        assert.equal(stored.subarray(0, 5).toString("latin1"), "PGDMP");
        assert.deepEqual(JSON.parse((await s3.getBytes(BUCKET, `${backup.key}.json`)).toString("utf8")), m);
        assert.deepEqual(m.databaseSnapshot, databaseBefore);
        assert.deepEqual(m.objects, objectsBefore);
        const writes = s3.sent.filter((c) => ["PutObjectCommand", "CreateMultipartUploadCommand"].includes(c.command));
        assert.deepEqual(
            writes.map((c) => [c.input.Key, c.input.ServerSideEncryption, c.input.SSEKMSKeyId]),
            [
                [backup.key, "aws:kms", TEST_KMS_KEY],
                [`${backup.key}.json`, "aws:kms", TEST_KMS_KEY],
            ],
        );
        assert.deepEqual((writes[0].input.Metadata as Record<string, string>).tenant, TENANT);

        // The tenant keeps working after the backup; those rows are not in the backup.
        await withDatabase(names.database, (db) =>
            db.query("INSERT INTO sales.orders (customer_id, ordered_at, status) VALUES (1, now(), 'late')"),
        );
        const afterBackup = await fingerprints(names.database);
        assert.notEqual(afterBackup["sales.orders"], before["sales.orders"]);

        // An application session is open on the live database: the switch must end it.
        const appSession = new Client({ ...adminConfig(), user: names.appRole, password: fixture.passwords.app, database: names.database });
        await appSession.connect();
        appSession.on("error", () => undefined);
        const appSessionEnded = new Promise<void>((resolve) => appSession.once("end", () => resolve()));

        const restoredAt = new Date("2031-05-04T09:30:15Z");
        const lines: string[] = [];
        const result = await restoreTenant(target, { ...options, now: () => restoredAt, log: (line) => lines.push(line) });
        assert.equal(result.key, backup.key);
        assert.equal(result.database, "erp_bak_roundtrip");
        assert.equal(result.previousDatabase, "erp_bak_roundtrip_before_restore_20310504093015");
        assert.deepEqual(result.warnings, []);
        await appSessionEnded;
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_roundtrip", "erp_bak_roundtrip_before_restore_20310504093015"]);
        // The quiesce came first and ended the app's session; the late order (and its audit row) is reported, not lost in silence.
        assert.equal(
            lines[1],
            "bak_roundtrip: quiesced: logins of erp_bak_roundtrip_app, erp_bak_roundtrip_migrator, erp_bak_roundtrip_readonly blocked, " +
                "1 session(s) ended; the tenant is offline until the restore ends",
        );
        assert.deepEqual(result.movedAside, { "audit.events": 1, "sales.orders": 1 });
        assert.equal(
            lines.at(-1),
            "bak_roundtrip: erp_bak_roundtrip now holds backup " +
                `${backup.key}; the previous database is kept as erp_bak_roundtrip_before_restore_20310504093015 (connections disabled). ` +
                "The previous database holds 2 row(s) the restored one does not (written after the backup): audit.events 1, sales.orders 1. " +
                "Drop it with npm run backup -- drop-previous bak_roundtrip erp_bak_roundtrip_before_restore_20310504093015",
        );

        // Table by table, row for row, and every sequence.
        assert.deepEqual(await fingerprints(names.database), before);
        // Owners and privileges of every object, default privileges, database owner, grants, limit and settings.
        assert.deepEqual(await withDatabase(names.database, readObjectSnapshot), objectsBefore);
        assert.deepEqual(await withDatabase("postgres", (admin) => readDatabaseSnapshot(admin, names.database)), databaseBefore);
        assert.equal(databaseBefore.connectionLimit, 40);
        assert.deepEqual(databaseBefore.settings, ['search_path="$user", public, core', "statement_timeout=45s"]);
        assert.deepEqual(databaseBefore.roleSettings, [{ role: names.appRole, settings: ["work_mem=8MB"] }]);
        assert.equal(await allowsConnections(names.database), true);
        assert.equal(
            await withDatabase(names.database, async (db) => (await db.query("SHOW statement_timeout")).rows[0].statement_timeout),
            "45s",
        );

        // The previous database is kept, closed to connections, with the rows written after the backup.
        const previous = result.previousDatabase!;
        assert.equal(await allowsConnections(previous), false);
        await withDatabase("postgres", (admin) => admin.query(`ALTER DATABASE ${id(previous)} WITH ALLOW_CONNECTIONS true`));
        assert.deepEqual(await fingerprints(previous), afterBackup);
        await withDatabase("postgres", (admin) => admin.query(`ALTER DATABASE ${id(previous)} WITH ALLOW_CONNECTIONS false`));

        // The tenant's roles work as the component declares: app reads and writes, not the audit trail; readonly reads only.
        const app = new Client({ ...adminConfig(), user: names.appRole, password: fixture.passwords.app, database: names.database });
        await app.connect();
        try {
            const inserted = await app.query<{ id: string }>(
                "INSERT INTO sales.orders (customer_id, ordered_at, status) VALUES (2, now(), 'new') RETURNING id",
            );
            assert.equal(inserted.rows[0].id, "251");
            assert.equal((await app.query("SELECT count(*)::int AS n FROM audit.events")).rows[0].n, 251);
            await assert.rejects(app.query("DELETE FROM audit.events"), /permission denied for table events/);
            assert.equal((await app.query("SHOW work_mem")).rows[0].work_mem, "8MB");
            // The role's own setting (30 s, from the component) beats the database's 45 s, as before the restore.
            assert.equal((await app.query("SHOW statement_timeout")).rows[0].statement_timeout, "30s");
        } finally {
            await app.end();
        }
        const readonly = new Client({
            ...adminConfig(),
            user: names.readonlyRole,
            password: fixture.passwords.readonly,
            database: names.database,
        });
        await readonly.connect();
        try {
            assert.equal((await readonly.query("SELECT count(*)::int AS n FROM sales.order_lines")).rows[0].n, 1000);
            await assert.rejects(readonly.query("INSERT INTO core.companies (name) VALUES ('x')"), /permission denied for table companies/);
        } finally {
            await readonly.end();
        }

        // List shows the backup and its age; the drill restores it into a scratch database and drops it.
        const [listing] = await listBackups([target], { ...options, now: () => new Date("2031-05-04T12:00:00.123Z") });
        assert.deepEqual(
            listing.backups.map((b) => [b.key, b.complete, b.ageHours]),
            [[backup.key, true, 10]],
        );
        assert.equal(listing.stale, false);
        const report = await drill([target], { ...options, now: () => new Date("2031-05-04T12:00:01Z") });
        assert.equal(report.failed, 0);
        assert.deepEqual(
            report.results.map((r) => [r.tenantId, r.status, r.key]),
            [[TENANT, "ok", backup.key]],
        );
        assert.equal(report.results[0].restoreSeconds! > 0, true);
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_roundtrip", previous]);

        // The previous copy goes only when asked, and only a before-restore copy can go.
        await assert.rejects(
            dropPreviousDatabase(target, names.database),
            /erp_bak_roundtrip is not a before-restore copy of erp_bak_roundtrip; refusing to drop it/,
        );
        await withDatabase("postgres", (admin) => admin.query(`ALTER DATABASE ${id(previous)} WITH ALLOW_CONNECTIONS true`));
        await assert.rejects(
            dropPreviousDatabase(target, previous),
            /accepts connections; a before-restore copy of erp_bak_roundtrip is owned by erp_bak_roundtrip_owner and refuses connections\. Refusing to drop it/,
        );
        await withDatabase("postgres", (admin) => admin.query(`ALTER DATABASE ${id(previous)} WITH ALLOW_CONNECTIONS false`));
        // The copy carries what the restore counted, for drop-previous to show.
        const copies = await listPreviousDatabases(target);
        assert.deepEqual(copies, [
            {
                database: previous,
                record: {
                    tenantdb: "before-restore/1",
                    replacedBy: backup.key,
                    at: "2031-05-04T09:30:15.000Z",
                    movedAside: { "audit.events": 1, "sales.orders": 1 },
                },
            },
        ]);
        assert.equal(
            dropWarning(copies[0], "erp_bak_roundtrip"),
            `${previous} holds 2 row(s) that erp_bak_roundtrip did not get back when ${backup.key} was restored (2031-05-04T09:30:15.000Z): ` +
                "audit.events 1, sales.orders 1. Dropping it deletes them for good.",
        );
        await dropPreviousDatabase(target, previous);
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_roundtrip"]);
    });
});

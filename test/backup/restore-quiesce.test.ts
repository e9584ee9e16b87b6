/**
 * A restore quiesces the tenant before it restores anything, and reports what the switch moves
 * aside: the writes made after the backup. The restore is held at its download (a gate in the
 * store) so the test looks at the tenant while it is quiesced, without racing the restore.
 * Real PostgreSQL, real pg_dump/pg_restore, s3rver.
 */
import assert from "node:assert/strict";
import { Client, escapeIdentifier as id } from "pg";
import { backupTenant } from "../../src/backup/backup";
import { TenantBackupError } from "../../src/backup/errors";
import { RestoreOptions, restoreTenant } from "../../src/backup/restore";
import { BackupStore } from "../../src/backup/store";
import { tenantNames } from "../../src/naming";
import { TenantFixture, createDeclaredTenant, dropDeclaredTenant } from "../support/declared-tenants";
import {
    S3Fixture,
    adminConfig,
    dropExtraDatabases,
    fingerprints,
    resigned,
    s3Target,
    seedErpTenant,
    startS3,
    storeFor,
    tenantDatabases,
    testSigningKey,
    withDatabase,
} from "./helpers";

const TENANT = "bak_quiet";
const BUCKET = "tenant-bak-quiet";
const names = tenantNames(TENANT);

/** Login state and quiesce comment of the tenant's three login roles. */
async function loginRoles(): Promise<[string, boolean, string | null][]> {
    return withDatabase("postgres", async (admin) => {
        const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; comment: string | null }>(
            "SELECT rolname, rolcanlogin, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1",
            [[names.appRole, names.readonlyRole, names.migratorRole]],
        );
        return rows.map((r) => [r.rolname, r.rolcanlogin, r.comment]);
    });
}

const open: [string, boolean, string | null][] = [
    [names.appRole, true, null],
    [names.migratorRole, true, null],
    [names.readonlyRole, true, null],
];

describe("a restore quiesces the tenant and reports what it moves aside (real PostgreSQL, s3rver)", function () {
    this.timeout(60_000);
    let s3: S3Fixture;
    let fixture: TenantFixture;
    let options: RestoreOptions;
    let backupKey: string;
    let release: () => void;
    let gate: Promise<void>;

    const asApp = () => new Client({ ...adminConfig(), user: names.appRole, password: fixture.passwords.app, database: names.database });

    before(async () => {
        s3 = await startS3();
        await s3.createBucket(BUCKET);
        await dropDeclaredTenant(adminConfig(), TENANT);
        fixture = await createDeclaredTenant(adminConfig(), TENANT);
        await seedErpTenant(TENANT, 0.2);
        const plain = storeFor(s3);
        // Downloads wait for the gate: the restore stops right after its quiesce.
        const gated = (target: Parameters<typeof plain>[0]): BackupStore => {
            const store = plain(target);
            const getStream = (key: string) => store.getStream(key);
            return Object.assign(Object.create(store) as BackupStore, { getStream: async (key: string) => (await gate, getStream(key)) });
        };
        options = { storeFor: gated, signingKey: testSigningKey, now: () => new Date("2031-08-01T10:00:00.000Z") };
        gate = Promise.resolve();
        backupKey = (await backupTenant(s3Target(TENANT, BUCKET), { ...options, now: () => new Date("2031-08-01T02:00:00.000Z") })).key;
    });

    after(async () => {
        await dropExtraDatabases(TENANT);
        await dropDeclaredTenant(adminConfig(), TENANT);
        await s3?.stop();
    });

    it("blocks the login roles and ends their sessions first, reopens them after, and counts the rows written since the backup", async () => {
        // Writes acknowledged after the backup: three customers and one journal line.
        const app = asApp();
        await app.connect();
        app.on("error", () => undefined);
        await app.query(
            "INSERT INTO masters.customers (company_id, name, credit_limit) SELECT 1, 'late ' || g, 10 FROM generate_series(1, 3) g",
        );
        await app.query("INSERT INTO finance.journal_lines (account, booked_on, memo) VALUES ('1000', '2031-08-01', 'late')");
        const appEnded = new Promise<void>((resolve) => app.once("end", () => resolve()));
        const liveAtRestore = await fingerprints(names.database);

        gate = new Promise((resolve) => (release = resolve));
        const lines: string[] = [];
        const restoring = restoreTenant(s3Target(TENANT, BUCKET), { ...options, log: (line) => lines.push(line) });
        while (!lines.some((line) => line.includes("quiesced"))) await new Promise((resolve) => setTimeout(resolve, 20));

        assert.equal(
            lines[1],
            `${TENANT}: quiesced: logins of ${names.appRole}, ${names.migratorRole}, ${names.readonlyRole} blocked, ` +
                "1 session(s) ended; the tenant is offline until the restore ends",
        );
        await appEnded;
        await assert.rejects(asApp().connect(), { code: "28000", message: `role "${names.appRole}" is not permitted to log in` });
        const quiesced = await loginRoles();
        assert.deepEqual(
            quiesced.map(([role, login]) => [role, login]),
            open.map(([role]) => [role, false]),
        );
        for (const [, , comment] of quiesced) {
            assert.match(comment!, new RegExp(`^tenantdb: logins blocked by a restore of ${names.database} since \\d{4}-\\d\\d-\\d\\dT`));
        }
        // Nothing can write now: the live database still holds exactly what it held at the quiesce.
        assert.deepEqual(await fingerprints(names.database), liveAtRestore);

        release();
        const result = await restoring;
        assert.deepEqual(result.movedAside, { "finance.journal_lines": 1, "masters.customers": 3 });
        assert.deepEqual(await loginRoles(), open);
        const after = asApp();
        await after.connect();
        assert.deepEqual((await after.query("SELECT count(*)::int AS n FROM masters.customers WHERE name LIKE 'late %'")).rows, [{ n: 0 }]);
        await after.end();
        // The late rows are in the kept copy, as the report says; its comment carries the count.
        const copy = result.previousDatabase!;
        assert.deepEqual(await tenantDatabases(TENANT), [names.database, copy]);
        const comment = await withDatabase("postgres", async (admin) => {
            const { rows } = await admin.query<{ c: string }>(
                "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1",
                [copy],
            );
            return JSON.parse(rows[0].c) as unknown;
        });
        assert.deepEqual(comment, {
            tenantdb: "before-restore/1",
            replacedBy: backupKey,
            at: "2031-08-01T10:00:00.000Z",
            movedAside: { "finance.journal_lines": 1, "masters.customers": 3 },
        });
        await dropExtraDatabases(TENANT);
    });

    it("a restore that fails after the quiesce reopens the logins and leaves the live database as it was", async () => {
        gate = Promise.resolve();
        const live = await fingerprints(names.database);
        const manifest = JSON.parse((await s3.getBytes(BUCKET, `${backupKey}.json`)).toString("utf8"));
        const key = `backups/${TENANT}/20310801T030000.000Z.dump`;
        await s3.put(BUCKET, key, await s3.getBytes(BUCKET, backupKey), { tenant: TENANT });
        // Signed, so it passes authentication, and wrong by one row, so verification refuses it after the quiesce.
        const wrong = resigned({ ...manifest, key, tables: { ...manifest.tables, "core.companies": 99 } });
        await s3.put(BUCKET, `${key}.json`, JSON.stringify(wrong));
        await assert.rejects(restoreTenant(s3Target(TENANT, BUCKET), { ...options, backup: key }), (error: unknown) => {
            assert.ok(error instanceof TenantBackupError);
            assert.deepEqual([error.kind, error.step], ["verify-failed", "verify"]);
            return true;
        });
        assert.deepEqual(await loginRoles(), open);
        assert.deepEqual(await tenantDatabases(TENANT), [names.database]);
        assert.deepEqual(await fingerprints(names.database), live);
    });

    it("a suspended tenant stays suspended: roles that could not log in are not reopened", async () => {
        await withDatabase("postgres", (admin) => admin.query(`ALTER ROLE ${id(names.readonlyRole)} NOLOGIN`));
        const lines: string[] = [];
        const result = await restoreTenant(s3Target(TENANT, BUCKET), { ...options, backup: backupKey, log: (line) => lines.push(line) });
        assert.equal(
            lines[1],
            `${TENANT}: quiesced: logins of ${names.appRole}, ${names.migratorRole} blocked, 0 session(s) ended; the tenant is offline until the restore ends`,
        );
        assert.deepEqual(await loginRoles(), [open[0], open[1], [names.readonlyRole, false, null]]);
        assert.deepEqual(result.movedAside, {});
        await withDatabase("postgres", (admin) => admin.query(`ALTER ROLE ${id(names.readonlyRole)} LOGIN`));
    });
});

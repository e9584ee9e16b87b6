/**
 * Every fault the issue names, against real PostgreSQL and s3rver: a corrupted or truncated
 * dump, a missing object, another tenant's backup, an unreachable bucket, the disk filling
 * up during restore, a failing pg_dump, a concurrent restore. Each gives a clear error and
 * leaves the live database exactly as it was: same name, same rows, open to connections,
 * and no half-restored database left behind.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { escapeIdentifier as id, escapeLiteral as lit } from "pg";
import { BackupResult, backupTenant } from "../../src/backup/backup";
import { drill } from "../../src/backup/drill";
import { TenantBackupError } from "../../src/backup/errors";
import { TenantBackupTarget } from "../../src/backup/inventory";
import { listBackups } from "../../src/backup/list";
import { BackupManifest } from "../../src/backup/manifest";
import { RestoreOptions, restoreScratch, restoreTenant } from "../../src/backup/restore";
import { openStore } from "../../src/backup/store";
import { freePort } from "../../src/local/embedded-server";
import { restoreLockKey, tenantNames } from "../../src/naming";
import { createDeclaredTenant as createTenantDatabase, dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";
import {
    S3Fixture,
    adminConfig,
    allowsConnections,
    dropExtraDatabases,
    fingerprints,
    s3Client,
    s3Target,
    seedErpTenant,
    startS3,
    storeFor,
    tenantDatabases,
    withDatabase,
    testSigningKey,
    resigned,
} from "./helpers";

const TENANT = "bak_fault";
const OTHER = "bak_other";
const BUCKET = "tenant-bak-faults";
const live = tenantNames(TENANT).database;
const T0 = new Date("2031-06-01T02:00:00.000Z");

/** Asserts the rejection is a TenantBackupError of this kind and step whose message matches. */
async function rejectsWith(
    promise: Promise<unknown>,
    kind: TenantBackupError["kind"],
    step: string,
    message: RegExp,
): Promise<TenantBackupError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof TenantBackupError, `expected a TenantBackupError, got ${error}`);
        assert.deepEqual([error.kind, error.step], [kind, step], error.message);
        assert.match(error.message, message);
        assert.match(error.message, new RegExp(`^tenant ${error.tenantId} \\(server test\\), step "${step}": `));
        return error;
    }
    assert.fail("expected a rejection");
}

describe("backup and restore faults (real PostgreSQL, s3rver)", function () {
    this.timeout(60_000);
    let s3: S3Fixture;
    let target: TenantBackupTarget;
    let options: RestoreOptions;
    let good: BackupResult;
    let other: BackupResult;
    let dump: Buffer;
    let liveBefore: Record<string, string>;

    /** Stores `bytes` as a backup of TENANT taken at `at`, with a manifest derived from the good one. */
    async function plant(
        at: Date,
        bytes: Buffer | undefined,
        manifest: Partial<BackupManifest> | undefined,
        metadata = { tenant: TENANT },
    ): Promise<string> {
        const stamp = at.toISOString().replace(/[-:]/g, "");
        const key = `backups/${TENANT}/${stamp}.dump`;
        if (bytes) await s3.put(BUCKET, key, bytes, metadata);
        // Signed with the real key: these faults get past authentication (tamper.test.ts covers it) to the checks behind it.
        if (manifest)
            await s3.put(
                BUCKET,
                `${key}.json`,
                JSON.stringify(resigned({ ...good.manifest, key, startedAt: at.toISOString(), ...manifest })),
            );
        return key;
    }

    before(async () => {
        s3 = await startS3();
        await s3.createBucket(BUCKET);
        for (const [tenant, scale] of [
            [TENANT, 3],
            [OTHER, 0.2],
        ] as const) {
            await dropTenantDatabase(adminConfig(), tenant);
            await createTenantDatabase(adminConfig(), tenant);
            await seedErpTenant(tenant, scale);
        }
        target = s3Target(TENANT, BUCKET);
        options = { storeFor: storeFor(s3), signingKey: testSigningKey };
        good = await backupTenant(target, { ...options, now: () => T0 });
        other = await backupTenant(s3Target(OTHER, BUCKET), { ...options, now: () => T0 });
        dump = await s3.getBytes(BUCKET, good.key);
        liveBefore = await fingerprints(live);
    });

    afterEach(async () => {
        // Nothing lost: the live database is there under its name, unchanged and open; nothing else is left.
        assert.deepEqual(await tenantDatabases(TENANT), [live]);
        assert.equal(await allowsConnections(live), true);
        assert.deepEqual(await fingerprints(live), liveBefore);
    });

    after(async () => {
        for (const tenant of [TENANT, OTHER]) {
            await dropExtraDatabases(tenant);
            await dropTenantDatabase(adminConfig(), tenant);
        }
        await s3?.stop();
    });

    // jobs 1 streams the download into pg_restore; jobs 2 verifies a private local copy first.
    for (const jobs of [1, 2]) {
        it(`refuses a corrupted dump (same size, bytes changed) on its checksum and drops the half-restored database (jobs ${jobs})`, async () => {
            const corrupted = Buffer.from(dump);
            for (let i = 0; i < 64; i++) corrupted[Math.floor(corrupted.length / 2) + i] ^= 0xff;
            const key = await plant(new Date(`2031-06-01T03:0${jobs}:00.000Z`), corrupted, {});
            await rejectsWith(
                restoreTenant(target, { ...options, backup: key, jobs }),
                "corrupt",
                "verify checksum",
                new RegExp(
                    `the dump ${key} does not match its manifest: read ${dump.length} bytes with sha256 [0-9a-f]{64}, the manifest records ${dump.length} bytes with sha256 ${good.manifest.sha256}`,
                ),
            );
        });
    }

    it("refuses a truncated dump on its size before creating anything", async () => {
        const key = await plant(new Date("2031-06-01T04:00:00.000Z"), dump.subarray(0, Math.floor(dump.length / 2)), {});
        await rejectsWith(
            restoreTenant(target, { ...options, backup: "20310601T040000.000Z" }),
            "corrupt",
            "check dump size",
            new RegExp(`the dump ${key} has ${Math.floor(dump.length / 2)} bytes but its manifest records ${dump.length}`),
        );
    });

    for (const jobs of [1, 2]) {
        it(`drops the half-restored database when pg_restore fails mid-way (a truncated dump recorded as complete; jobs ${jobs})`, async () => {
            const truncated = dump.subarray(0, Math.floor(dump.length * 0.8));
            const { createHash } = await import("node:crypto");
            const key = await plant(new Date(`2031-06-01T05:0${jobs}:00.000Z`), truncated, {
                sizeBytes: truncated.length,
                sha256: createHash("sha256").update(truncated).digest("hex"),
            });
            await rejectsWith(
                restoreTenant(target, { ...options, backup: key, jobs }),
                "restore-failed",
                "pg_restore",
                /pg_restore exited with code 1: .*(unexpected end of file|could not read from input file|could not find block ID)/,
            );
        });
    }

    it("reports a missing dump, a missing backup and a tenant with no backup at all", async () => {
        const key = await plant(new Date("2031-06-01T06:00:00.000Z"), undefined, {});
        await rejectsWith(
            restoreTenant(target, { ...options, backup: key }),
            "missing",
            "inspect dump",
            new RegExp(`the dump ${key} is missing although its manifest exists`),
        );
        await rejectsWith(
            restoreTenant(target, { ...options, backup: "20200101T000000.000Z" }),
            "missing",
            "read manifest",
            /backup s3:\/\/tenant-bak-faults\/backups\/bak_fault\/20200101T000000.000Z.dump does not exist/,
        );
        const empty: TenantBackupTarget = { ...target, destination: `s3://${BUCKET}/nothing-here/` };
        await rejectsWith(
            restoreTenant(empty, options),
            "missing",
            "find latest backup",
            /no complete backup under s3:\/\/tenant-bak-faults\/nothing-here\/backups\/bak_fault\//,
        );
        const report = await drill([empty], options);
        assert.deepEqual(
            report.results.map((r) => [r.tenantId, r.status, r.problem]),
            [[TENANT, "missing", "no complete backup in s3://tenant-bak-faults/nothing-here/; run: npm run backup -- bak_fault"]],
        );
        assert.equal(report.failed, 1);
    });

    it("refuses another tenant's backup: by its manifest, by its object metadata, and by the database named in the dump itself", async () => {
        await rejectsWith(
            restoreTenant(target, { ...options, backup: other.key }),
            "mismatch",
            "check manifest",
            new RegExp(
                `backup ${other.key} belongs to tenant bak_other \\(database erp_bak_other\\), not bak_fault; refusing to restore it`,
            ),
        );
        const tagged = await plant(new Date("2031-06-01T07:00:00.000Z"), dump, {}, { tenant: OTHER });
        await rejectsWith(
            restoreTenant(target, { ...options, backup: tagged }),
            "mismatch",
            "check dump metadata",
            /is tagged tenant=bak_other, not bak_fault/,
        );
        // The other tenant's dump with a manifest and metadata rewritten to claim this tenant.
        const otherDump = await s3.getBytes(BUCKET, other.key);
        const disguised = await plant(new Date("2031-06-01T08:00:00.000Z"), otherDump, {
            sizeBytes: other.manifest.sizeBytes,
            sha256: other.manifest.sha256,
        });
        await rejectsWith(
            restoreTenant(target, { ...options, backup: disguised }),
            "mismatch",
            "check archive header",
            new RegExp(`the dump ${disguised} is a dump of database erp_bak_other, not erp_bak_fault; refusing to restore it`),
        );
    });

    it("refuses a dump without a manifest, and the newest complete backup is the one restored", async () => {
        const latest: TenantBackupTarget = { ...target, destination: `s3://${BUCKET}/latest/` };
        const complete = `latest/backups/${TENANT}/20310601T020000.000Z.dump`;
        const incomplete = `latest/backups/${TENANT}/20310602T020000.000Z.dump`;
        await s3.put(BUCKET, complete, dump, { tenant: TENANT });
        await s3.put(BUCKET, `${complete}.json`, JSON.stringify(resigned({ ...good.manifest, key: complete })));
        await s3.put(BUCKET, incomplete, dump, { tenant: TENANT });
        const [listing] = await listBackups([latest], { ...options, now: () => new Date("2031-06-02T03:00:00.000Z") });
        assert.deepEqual(
            listing.backups.map((b) => [b.key, b.complete, b.ageHours]),
            [
                [complete, true, 25],
                [incomplete, false, 1],
            ],
        );
        assert.equal(listing.stale, false);
        await rejectsWith(
            restoreTenant(latest, { ...options, backup: incomplete }),
            "corrupt",
            "read manifest",
            /has no manifest .*: the backup did not finish and cannot be verified/,
        );
        const result = await restoreScratch(latest, options);
        assert.equal(result.key, complete);
        // 27 hours later the same backup is stale: list flags it and the drill fails on it.
        const later = () => new Date("2031-06-02T05:00:00.000Z");
        assert.equal((await listBackups([latest], { ...options, now: later }))[0].stale, true);
        const report = await drill([latest], { ...options, now: later });
        assert.deepEqual(
            report.results.map((r) => [r.status, r.key, r.ageHours]),
            [["stale", complete, 27]],
        );
        assert.equal(report.failed, 1);
    });

    it("reports an unreachable bucket (no such bucket, nothing listening) for backup, restore, list and drill", async () => {
        const noBucket: TenantBackupTarget = { ...target, bucket: "no-such-bucket", destination: "s3://no-such-bucket/" };
        await rejectsWith(
            restoreTenant(noBucket, options),
            "unreachable",
            "list backups",
            /cannot list s3:\/\/no-such-bucket\/backups\/bak_fault\/ \(bucket no-such-bucket does not exist\)/,
        );
        await rejectsWith(
            backupTenant(noBucket, options),
            "unreachable",
            "upload dump",
            /bucket no-such-bucket does not exist.*Fix: check that s3:\/\/no-such-bucket\/ exists/,
        );
        const closed = s3Client(`http://127.0.0.1:${await freePort()}`);
        const nowhere = { storeFor: (t: TenantBackupTarget) => openStore(t, { s3Client: closed }), signingKey: testSigningKey };
        await rejectsWith(
            restoreTenant(target, nowhere),
            "unreachable",
            "list backups",
            /cannot list s3:\/\/tenant-bak-faults\/backups\/bak_fault\/ \(.*ECONNREFUSED/,
        );
        await rejectsWith(backupTenant(target, nowhere), "unreachable", "upload dump", /ECONNREFUSED/);
        const [listing] = await listBackups([target], nowhere);
        assert.equal(listing.error?.kind, "unreachable");
        assert.equal((await drill([target], nowhere)).results[0].status, "failed");
        closed.destroy();
    });

    it("leaves no object behind when the backup fails (a lock it cannot get)", async () => {
        const keysBefore = (await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents!.map((o) => o.Key).sort();
        await withDatabase(live, async (locker) => {
            await locker.query("BEGIN");
            await locker.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
            try {
                await rejectsWith(
                    backupTenant(target, { ...options, lockWaitTimeout: "300ms" }),
                    "database",
                    "count rows",
                    /canceling statement due to lock timeout Fix: if a lock timed out, retry when the blocking DDL is done/,
                );
            } finally {
                await locker.query("ROLLBACK");
            }
        });
        const keysAfter = (await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents!.map((o) => o.Key).sort();
        assert.deepEqual(keysAfter, keysBefore);
    });

    it("refuses a second restore of the same tenant while one runs", async () => {
        await withDatabase("postgres", async (holder) => {
            await holder.query("SELECT pg_advisory_lock(hashtext($1))", [restoreLockKey(live)]);
            await rejectsWith(
                restoreTenant(target, options),
                "busy",
                "lock tenant",
                /another restore or drill of erp_bak_fault is running/,
            );
        });
    });

    it("fails cleanly when the disk fills up during pg_restore (tablespace on a nearly full tmpfs)", async function () {
        const mount = path.join(os.tmpdir(), `tenantdb-full-${process.pid}`);
        let postgresUid: number;
        try {
            if (process.getuid?.() !== 0) throw new Error("not root");
            postgresUid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
            mkdirSync(mount, { recursive: true });
            execFileSync("mount", ["-t", "tmpfs", "-o", `size=64m,mode=0755,uid=${postgresUid}`, "tmpfs", mount], { stdio: "ignore" });
        } catch (error) {
            rmSync(mount, { recursive: true, force: true });
            console.log(`      (skipped: mounting a small tmpfs needs root and mount permission: ${(error as Error).message})`);
            this.skip();
        }
        const tablespaceDir = path.join(mount, "ts");
        try {
            mkdirSync(tablespaceDir);
            execFileSync("chown", [String(postgresUid!), tablespaceDir]);
            await withDatabase("postgres", async (admin) => {
                await admin.query(`CREATE TABLESPACE bak_small LOCATION ${lit(tablespaceDir)}`);
                // Leave room for an empty database (measured with a probe) and 512 KiB more; the restored data needs far more.
                await admin.query("CREATE DATABASE bak_probe TABLESPACE bak_small");
                const free = Number(execFileSync("df", ["--output=avail", "-B1", mount], { encoding: "utf8" }).split("\n")[1].trim());
                await admin.query("DROP DATABASE bak_probe");
                writeFileSync(path.join(mount, "filler"), Buffer.alloc(free - 512 * 1024));
            });
            // PostgreSQL reports a full disk as ENOSPC, or, when part of a block got through before
            // the disk filled (md.c: mdextend), as a short write with its "Check free disk space" hint.
            await rejectsWith(
                restoreTenant(target, { ...options, backup: good.key, tablespace: "bak_small" }),
                "restore-failed",
                "pg_restore",
                /No space left on device|could not extend file "[^"]+": wrote only \d+ of 8192 bytes at block \d+ \| HINT: {2}Check free disk space\./,
            );
        } finally {
            await withDatabase("postgres", (admin) => admin.query(`DROP TABLESPACE IF EXISTS ${id("bak_small")}`)).catch(() => undefined);
            execFileSync("umount", [mount]);
            rmSync(mount, { recursive: true, force: true });
        }
    });

    it("restore --jobs 2 from S3: a temp folder without room is refused before the download, one that fills up mid-copy is left empty", async () => {
        const base = path.join(os.tmpdir(), `tenantdb-temp-${process.pid}`);
        const small = path.join(base, "small");
        const noInodes = path.join(base, "no-inodes");
        const mounted: string[] = [];
        try {
            for (const [at, size] of [
                [small, "size=16k"],
                // Inodes for the restore's temp folder and not one more: the copy's file cannot be created (ENOSPC).
                [noInodes, "size=1m,nr_inodes=2"],
            ]) {
                mkdirSync(at, { recursive: true });
                execFileSync("mount", ["-t", "tmpfs", "-o", size, "tmpfs", at]);
                mounted.push(at);
            }
            const sizeText = `${(good.manifest.sizeBytes / 1024).toFixed(1)} KiB \\(${good.manifest.sizeBytes} bytes\\)`;
            const key = good.key.replace(/\./g, "\\.");
            const gets = () => s3.sent.filter((c) => c.command === "GetObjectCommand" && c.input.Key === good.key).length;
            const getsBefore = gets();
            await rejectsWith(
                restoreTenant(target, { ...options, backup: good.key, jobs: 2, tempDir: small }),
                "unreachable",
                "copy dump to temp folder",
                new RegExp(
                    `the temp folder ${small} has 16\\.0 KiB \\(16384 bytes\\) free, but the dump ${key} needs ${sizeText} \\(its manifest's sizeBytes\\)\\.`,
                ),
            );
            assert.equal(gets(), getsBefore, "the dump was not downloaded");
            await rejectsWith(
                restoreTenant(target, { ...options, backup: good.key, jobs: 2, tempDir: noInodes }),
                "unreachable",
                "copy dump to temp folder",
                new RegExp(
                    `the temp folder ${noInodes} ran out of space \\(ENOSPC\\) while the dump ${key}, ${sizeText}, was copied into it\\.`,
                ),
            );
            for (const at of mounted) {
                assert.equal(execFileSync("find", [at, "-mindepth", "1"], { encoding: "utf8" }), "", `${at} is empty`);
            }
        } finally {
            for (const at of mounted) execFileSync("umount", [at]);
            rmSync(base, { recursive: true, force: true });
        }
    });
});

/**
 * Tampered backups, as an attacker with write access to the bucket makes them: an edited
 * function body with the manifest's checksum recomputed, and another tenant's dump with its
 * header renamed. Each is refused before the live database is touched, whatever the options.
 * Real PostgreSQL, real pg_dump/pg_restore, s3rver.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { escapeIdentifier as id } from "pg";
import { BackupResult, backupTenant } from "../../src/backup/backup";
import { TenantBackupError } from "../../src/backup/errors";
import { BackupManifest, signManifest } from "../../src/backup/manifest";
import { RestoreOptions, restoreTenant } from "../../src/backup/restore";
import { ManifestSigningKey } from "../../src/backup/signing";
import { restoreDatabaseNames, tenantNames } from "../../src/naming";
import { createDeclaredTenant, dropDeclaredTenant } from "../support/declared-tenants";
import {
    S3Fixture,
    adminConfig,
    allowsConnections,
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

const A = "tam_a";
const B = "tam_b";
const BUCKET = "tenant-bak-tamper";
const T0 = new Date("2031-07-01T02:00:00.000Z");
const RESTORE_AT = new Date("2031-07-02T03:04:05.000Z");
const scratchOf = (tenant: string) => restoreDatabaseNames(tenant, "20310702030405").restore;

const ORIGINAL_BODY = "BEGIN INSERT INTO audit.events (table_name, row_id) VALUES (TG_TABLE_NAME, NEW.id::text); RETURN NEW; END";
/** A backdoor an attacker would want restored: every order also lands in a table of theirs. */
const EDITED_BODY = "BEGIN INSERT INTO audit.events (table_name, row_id) VALUES ('exfiltrated', NEW.id::text); RETURN NEW; END";

async function setAuditBody(tenant: string, body: string): Promise<void> {
    await withDatabase(tenantNames(tenant).database, async (db) => {
        await db.query(`SET ROLE ${id(tenantNames(tenant).ownerRole)}`);
        await db.query(
            `CREATE OR REPLACE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$ ${body} $$`,
        );
    });
}

async function rejectsWith(promise: Promise<unknown>, kind: string, step: string, message: string): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof TenantBackupError, `expected a TenantBackupError, got ${String(error)}`);
        assert.deepEqual([error.kind, error.step, error.message], [kind, step, message]);
        return true;
    });
}

describe("tampered backups are refused (real PostgreSQL, s3rver)", function () {
    this.timeout(60_000);
    let s3: S3Fixture;
    let options: RestoreOptions;
    let goodA: BackupResult;
    let goodB: BackupResult;
    /** A dump of A taken while its audit function held the edited body. */
    let editedDump: Buffer;
    let editedManifest: BackupManifest;
    const liveBefore: Record<string, Record<string, string>> = {};

    /** Stores a dump and a manifest under a new key of `tenant`; the manifest's key, size and sha256 are made to match. */
    async function plant(tenant: string, at: string, bytes: Buffer, manifest: BackupManifest, sign: (m: BackupManifest) => BackupManifest) {
        const key = `backups/${tenant}/${at}.dump`;
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        await s3.put(BUCKET, key, bytes, { tenant });
        await s3.put(BUCKET, `${key}.json`, JSON.stringify(sign({ ...manifest, key, sizeBytes: bytes.length, sha256 })));
        return key;
    }

    before(async () => {
        s3 = await startS3();
        await s3.createBucket(BUCKET);
        for (const tenant of [A, B]) {
            await dropDeclaredTenant(adminConfig(), tenant);
            await createDeclaredTenant(adminConfig(), tenant);
            await seedErpTenant(tenant, 0.2);
        }
        options = { storeFor: storeFor(s3), signingKey: testSigningKey, now: () => RESTORE_AT };
        goodA = await backupTenant(s3Target(A, BUCKET), { ...options, now: () => T0 });
        goodB = await backupTenant(s3Target(B, BUCKET), { ...options, now: () => T0 });
        await setAuditBody(A, EDITED_BODY);
        const edited = await backupTenant(s3Target(A, BUCKET), { ...options, now: () => new Date("2031-07-01T03:00:00.000Z") });
        editedDump = await s3.getBytes(BUCKET, edited.key);
        editedManifest = edited.manifest;
        await setAuditBody(A, ORIGINAL_BODY);
        for (const tenant of [A, B]) liveBefore[tenant] = await fingerprints(tenantNames(tenant).database);
    });

    afterEach(async () => {
        // Nothing lost: each live database is there, unchanged and open, and nothing else is left.
        for (const tenant of [A, B]) {
            assert.deepEqual(await tenantDatabases(tenant), [tenantNames(tenant).database]);
            assert.equal(await allowsConnections(tenantNames(tenant).database), true);
            assert.deepEqual(await fingerprints(tenantNames(tenant).database), liveBefore[tenant]);
        }
    });

    after(async () => {
        for (const tenant of [A, B]) {
            await dropExtraDatabases(tenant);
            await dropDeclaredTenant(adminConfig(), tenant);
        }
        await s3?.stop();
    });

    it("records every object's definition, so the edited function body is a different digest", () => {
        const name = "function audit.record()";
        assert.match(goodA.manifest.definitions[name], /^[0-9a-f]{64}$/);
        assert.notEqual(editedManifest.definitions[name], goodA.manifest.definitions[name]);
        const changed = Object.keys(goodA.manifest.definitions).filter(
            (object) => goodA.manifest.definitions[object] !== editedManifest.definitions[object],
        );
        assert.deepEqual(changed, [name]);
    });

    it("refuses an edited function body whose manifest checksum was recomputed: the signature no longer verifies", async () => {
        const key = await plant(A, "20310701T040000.000Z", editedDump, goodA.manifest, (m) => m);
        await rejectsWith(
            restoreTenant(s3Target(A, BUCKET), { ...options, backup: key, allowPrivilegeDrift: true }),
            "corrupt",
            "authenticate manifest",
            `tenant ${A} (server test), step "authenticate manifest": ${key}.json: the manifest's signature does not match its content: ` +
                "the manifest was edited after the backup signed it; refusing to restore it. Fix: restore another backup " +
                "(npm run backup -- list), and treat the store as compromised: this manifest was written without the signing key.",
        );
        const rogue = ManifestSigningKey.fromHex("66".repeat(32), "rogue");
        const rogueKey = await plant(A, "20310701T041000.000Z", editedDump, goodA.manifest, (m) => {
            const { signature: _, ...unsigned } = m;
            return signManifest(unsigned, rogue);
        });
        await rejectsWith(
            restoreTenant(s3Target(A, BUCKET), { ...options, backup: rogueKey }),
            "corrupt",
            "authenticate manifest",
            `tenant ${A} (server test), step "authenticate manifest": ${rogueKey}.json: the manifest is signed with key ${rogue.id}, ` +
                `and the configured key is ${testSigningKey.id}; refusing to restore it. Fix: configure the key that signed this backup ` +
                `(key id ${rogue.id}), or restore another backup.`,
        );
    });

    it("even with the signing key stolen, a manifest that keeps the old definitions is refused at verification", async () => {
        const key = await plant(A, "20310701T042000.000Z", editedDump, goodA.manifest, resigned);
        await rejectsWith(
            restoreTenant(s3Target(A, BUCKET), { ...options, backup: key, allowPrivilegeDrift: true }),
            "verify-failed",
            "verify",
            `tenant ${A} (server test), step "verify": ${scratchOf(A)} differs from what backup ${key} recorded: ` +
                "function audit.record() has a definition other than the one backed up. Fix: restore another backup and report this one.",
        );
    });

    it("refuses another tenant's dump with its header renamed, whatever the options: by the manifest, then by the restored grants", async () => {
        const from = Buffer.from(tenantNames(A).database);
        const at = editedDump.subarray(0, 512).indexOf(from);
        assert.ok(at > 0, "the header names the dumped database");
        const renamed = Buffer.from(await s3.getBytes(BUCKET, goodA.key));
        Buffer.from(tenantNames(B).database).copy(renamed, renamed.subarray(0, 512).indexOf(from));

        // A's own manifest, claimed for B and re-signed: A's roles are named in it.
        const claimed = { ...goodA.manifest, tenantId: B, database: tenantNames(B).database };
        const byManifest = await plant(B, "20310701T050000.000Z", renamed, claimed, resigned);
        const a = tenantNames(A);
        const aRoles = [a.appRole, a.migratorRole, a.ownerRole, a.readonlyRole].join(", ");
        await rejectsWith(
            restoreTenant(s3Target(B, BUCKET), { ...options, backup: byManifest, allowPrivilegeDrift: true }),
            "mismatch",
            "check manifest",
            `tenant ${B} (server test), step "check manifest": backup ${byManifest} records objects owned by or granted to roles of ` +
                `other tenants (${aRoles}); a backup of another tenant is never restored into erp_${B}, whatever the options. ` +
                `Fix: pick one of this tenant's own backups: npm run backup -- list ${B}`,
        );

        // B's own manifest around A's renamed dump: only the restored grants tell.
        const byGrants = await plant(B, "20310701T051000.000Z", renamed, goodB.manifest, resigned);
        await rejectsWith(
            restoreTenant(s3Target(B, BUCKET), { ...options, backup: byGrants, allowPrivilegeDrift: true }),
            "mismatch",
            "check tenant roles",
            `tenant ${B} (server test), step "check tenant roles": the restored ${scratchOf(B)} grants to roles of other tenants ` +
                `(${[a.appRole, a.ownerRole, a.readonlyRole].join(", ")}): the dump is another tenant's; refusing it ` +
                `whatever the options. Fix: restore one of this tenant's own backups (npm run backup -- list ${B}) and report this one.`,
        );
    });

    it("refuses a manifest of the unsigned format, and a backup without a key says how to set one", async () => {
        const key = `backups/${A}/20310701T060000.000Z.dump`;
        await s3.put(BUCKET, key, editedDump, { tenant: A });
        const { signature: _, definitions: __, ...v1 } = goodA.manifest;
        await s3.put(BUCKET, `${key}.json`, JSON.stringify({ ...v1, format: "tenantdb-backup/1", key }));
        await rejectsWith(
            restoreTenant(s3Target(A, BUCKET), { ...options, backup: key }),
            "corrupt",
            "read manifest",
            `tenant ${A} (server test), step "read manifest": ${key}.json: the manifest is a tenantdb-backup/1 manifest, written before ` +
                "manifests were signed, so it cannot be authenticated. Fix: restore another backup.",
        );
        const { signingKey: _key, ...unkeyed } = options;
        await rejectsWith(
            backupTenant(s3Target(A, BUCKET), unkeyed),
            "config",
            "signing key",
            `tenant ${A} (server test), step "signing key": no backup signing key is configured: manifests are signed so that a ` +
                "restore can tell a tampered backup. Fix: set TENANTDB_BACKUP_SIGNING_KEY (or the inventory's signingKeyEnv); " +
                "generate one with `openssl rand -hex 32` and keep it in your secret store, not next to the backups.",
        );
    });
});

/**
 * Issue 13, backup part, through the real bin (`tenantdb backup ...` in a subprocess) against the
 * real PostgreSQL and pg_dump/pg_restore, with a file:// store: one JSON document per --json,
 * restore's confirmation (refused without a terminal and without --yes, nothing changed), verify
 * without restoring, and list marking a truncated, altered or old dump as bad or stale.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { BackupManifest } from "../../src/backup/manifest";
import { tenantNames } from "../../src/naming";
import { createDeclaredTenant, dropDeclaredTenant } from "../support/declared-tenants";
import {
    CliRun,
    TEST_SIGNING_KEY_HEX,
    adminConfig,
    backupServer,
    dropExtraDatabases,
    fingerprints,
    resigned,
    runBackupCli,
    seedErpTenant,
    tenantDatabases,
} from "./helpers";

const TENANT = "bak_safe";
const EMPTY = "bak_safe_none";
const STAMP = /^\d{8}T\d{6}\.\d{3}Z$/;

/** The one JSON document on stdout; fails the test when stdout holds anything else. */
function json(run: CliRun): Record<string, unknown> {
    try {
        return JSON.parse(run.stdout) as Record<string, unknown>;
    } catch {
        assert.fail(`stdout is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
    }
}

describe("backup CLI: --json, confirmed restores, verify and list's bad dumps (issue 13)", function () {
    this.timeout(90_000);
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let key: string;
    let folder: string;
    const backup = (args: string[]) => runBackupCli(args, env);
    const dumpFile = () => path.join(dir, "store", key);

    before(async () => {
        await dropDeclaredTenant(adminConfig(), TENANT);
        await createDeclaredTenant(adminConfig(), TENANT);
        await seedErpTenant(TENANT, 0.2);
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-safe-"));
        const server = backupServer();
        writeFileSync(
            path.join(dir, "inventory.yaml"),
            stringify({
                servers: {
                    local: {
                        host: server.host,
                        port: server.port,
                        user: server.user,
                        passwordEnv: "TENANTDB_TEST_ADMIN_PASSWORD",
                        sslmode: "disable",
                    },
                },
                tenants: [
                    { id: TENANT, server: "local", destination: `file://${dir}/store` },
                    { id: EMPTY, server: "local", destination: `file://${dir}/store` },
                ],
            }),
        );
        env = {
            ...process.env,
            TENANTDB_BACKUP_CONFIG: path.join(dir, "inventory.yaml"),
            TENANTDB_TEST_ADMIN_PASSWORD: server.password,
            TENANTDB_BACKUP_SIGNING_KEY: TEST_SIGNING_KEY_HEX,
            NO_COLOR: "1",
        };
        folder = path.join(dir, "store/backups", TENANT);
    });

    after(async () => {
        await dropExtraDatabases(TENANT);
        await dropDeclaredTenant(adminConfig(), TENANT);
        rmSync(dir, { recursive: true, force: true });
    });

    it("run --json prints one document: each tenant's key, size, sha256, schema; exit 0", async () => {
        const run = await backup(["run", TENANT, "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const doc = json(run);
        const backups = doc.backups as Record<string, unknown>[];
        assert.deepEqual(Object.keys(doc), ["ok", "backups"]);
        assert.equal(doc.ok, true);
        assert.equal(backups.length, 1);
        const [only] = backups;
        key = String(only.key);
        assert.match(key, /^backups\/bak_safe\/\d{8}T\d{6}\.\d{3}Z\.dump$/);
        const manifest = JSON.parse(readFileSync(`${dumpFile()}.json`, "utf8")) as BackupManifest;
        assert.deepEqual(only, {
            tenantId: TENANT,
            status: "ok",
            key,
            uri: `file://${dir}/store/${key}`,
            startedAt: manifest.startedAt,
            finishedAt: manifest.finishedAt,
            sizeBytes: statSync(dumpFile()).size,
            sha256: createHash("sha256").update(readFileSync(dumpFile())).digest("hex"),
            tables: Object.keys(manifest.tables).length,
            schemaVersion: "0002_reference_data",
        });
        // Progress went to stderr, never into the document.
        assert.match(run.stderr, /bak_safe: dumping erp_bak_safe/);
    });

    it("list --json: ok with the newest backup checked, missing for a tenant without one; exit 1", async () => {
        const run = await backup(["list", "--json"]);
        assert.equal(run.code, 1);
        // The document says it all: no summary on stderr besides.
        assert.equal(run.stderr, "");
        const doc = json(run);
        const [ok, missing] = doc.tenants as Record<string, unknown>[];
        assert.deepEqual([doc.ok, doc.staleAfterHours], [false, 26]);
        const newest = ok.newest as Record<string, unknown>;
        assert.deepEqual(ok, {
            tenantId: TENANT,
            location: `file://${dir}/store/`,
            status: "ok",
            newest: {
                key,
                startedAt: newest.startedAt,
                ageHours: newest.ageHours,
                sizeBytes: statSync(dumpFile()).size,
                complete: true,
                check: { status: "ok", signatureChecked: true, schemaVersion: "0002_reference_data" },
            },
        });
        assert.ok(typeof newest.ageHours === "number" && newest.ageHours < 1);
        assert.deepEqual(missing, {
            tenantId: EMPTY,
            location: `file://${dir}/store/`,
            status: "missing",
            reason: `no complete backup in file://${dir}/store/backups/${EMPTY}/`,
            newest: null,
        });
    });

    it("verify checks the signed manifest, size, sha256 and archive header without restoring; exit 0, --json", async () => {
        const databases = await tenantDatabases(TENANT);
        const text = await backup(["verify", TENANT]);
        assert.equal(text.code, 0, text.stderr);
        const manifest = JSON.parse(readFileSync(`${dumpFile()}.json`, "utf8")) as BackupManifest;
        assert.match(
            text.stdout,
            new RegExp(
                `^${key.replace(/\./g, "\\.")} is good: manifest signed \\(key [0-9a-f]{16}\\), ${manifest.sizeBytes} bytes with sha256 ${manifest.sha256}, ` +
                    `a pg_dump 1\\.1\\d archive of erp_bak_safe \\(taken ${manifest.startedAt}, schema 0002_reference_data\\)\\.\n$`,
            ),
        );
        const stamp = path.basename(key, ".dump");
        assert.match(stamp, STAMP);
        const run = await backup(["verify", TENANT, "--backup", stamp, "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const doc = json(run);
        const header = doc.header as { archiveVersion: string; pgDumpVersion: string };
        assert.ok(header.pgDumpVersion.startsWith(manifest.pgDumpVersion), header.pgDumpVersion);
        assert.deepEqual(doc, {
            ok: true,
            tenantId: TENANT,
            key,
            uri: `file://${dir}/store/${key}`,
            startedAt: manifest.startedAt,
            schemaVersion: "0002_reference_data",
            sizeBytes: manifest.sizeBytes,
            sha256: manifest.sha256,
            signatureKeyId: manifest.signature.keyId,
            header: {
                database: "erp_bak_safe",
                archiveVersion: header.archiveVersion,
                pgDumpVersion: header.pgDumpVersion,
            },
        });
        // Nothing was restored: no scratch database, nothing new on the server.
        assert.deepEqual(await tenantDatabases(TENANT), databases);
    });

    it("restore without a terminal and without --yes shows the swap, refuses naming --yes (exit 2) and changes nothing", async () => {
        const before = await fingerprints(tenantNames(TENANT).database);
        const run = await backup(["restore", TENANT]);
        assert.equal(run.code, 2);
        assert.equal(run.stdout, "");
        const manifest = JSON.parse(readFileSync(`${dumpFile()}.json`, "utf8")) as BackupManifest;
        assert.equal(
            run.stderr,
            [
                `Restore of tenant ${TENANT} (server local):`,
                `  replaces:   the live database erp_bak_safe`,
                `  with:       ${key}, taken ${manifest.startedAt}, schema 0002_reference_data, 0.0 MiB`,
                `  live copy:  renamed erp_bak_safe_before_restore_<timestamp>, closed to connections and kept until drop-previous; writes made after the backup stay only there`,
                `  meanwhile:  the tenant's logins are blocked until the restore ends; the live data is untouched unless the restored copy verifies`,
                `Refusing to restore tenant ${TENANT} without confirmation: there is no terminal to ask on. Pass --yes to restore it.`,
                `Nothing was changed.`,
                "",
            ].join("\n"),
        );
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_safe"]);
        assert.deepEqual(await fingerprints(tenantNames(TENANT).database), before);
    });

    it("restore --yes --json restores without asking and prints one document; drill --json reports it", async () => {
        const before = await fingerprints(tenantNames(TENANT).database);
        const run = await backup(["restore", TENANT, "--yes", "--json", "--jobs", "1"]);
        assert.equal(run.code, 0, run.stderr);
        const doc = json(run);
        const manifest = JSON.parse(readFileSync(`${dumpFile()}.json`, "utf8")) as BackupManifest;
        assert.match(String(doc.previousDatabase), /^erp_bak_safe_before_restore_\d{14}$/);
        assert.ok(typeof doc.restoreSeconds === "number" && doc.restoreSeconds > 0);
        assert.deepEqual(doc, {
            ok: true,
            tenantId: TENANT,
            database: "erp_bak_safe",
            key,
            startedAt: manifest.startedAt,
            schemaVersion: "0002_reference_data",
            restoreSeconds: doc.restoreSeconds,
            previousDatabase: doc.previousDatabase,
            movedAside: {},
            warnings: [],
        });
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_safe", String(doc.previousDatabase)]);
        assert.deepEqual(await fingerprints(tenantNames(TENANT).database), before);
        assert.equal((await backup(["drop-previous", TENANT, String(doc.previousDatabase), "--yes"])).code, 0);

        const drilled = await backup(["drill", TENANT, EMPTY, "--json"]);
        assert.equal(drilled.code, 1);
        const report = json(drilled);
        const [ok, missing] = report.results as Record<string, unknown>[];
        assert.deepEqual([report.ok, report.failed], [false, 1]);
        assert.deepEqual(ok, { tenantId: TENANT, status: "ok", key, ageHours: ok.ageHours, restoreSeconds: ok.restoreSeconds });
        assert.deepEqual(missing, {
            tenantId: EMPTY,
            status: "missing",
            key: null,
            ageHours: null,
            restoreSeconds: null,
            problem: `no complete backup in file://${dir}/store/; run: npm run backup -- ${EMPTY}`,
        });
    });

    it("list marks a stale newest backup; --stale-hours moves the limit; exit 1 then 0", async () => {
        // The only backup, re-keyed 30 hours into the past (its manifest re-signed under the test key).
        const old = new Date(Date.now() - 30 * 3_600_000);
        const oldStamp = old.toISOString().replace(/[-:]/g, "");
        const oldKey = `backups/${TENANT}/${oldStamp}.dump`;
        const manifest = JSON.parse(readFileSync(`${dumpFile()}.json`, "utf8")) as BackupManifest;
        const aside = path.join(dir, "aside");
        rmSync(aside, { recursive: true, force: true });
        renameSync(folder, aside);
        try {
            const { mkdirSync } = await import("node:fs");
            mkdirSync(folder, { recursive: true });
            copyFileSync(path.join(aside, path.basename(key)), path.join(dir, "store", oldKey));
            writeFileSync(
                path.join(dir, "store", `${oldKey}.json`),
                JSON.stringify(resigned({ ...manifest, key: oldKey, startedAt: old.toISOString() })),
            );
            const stale = await backup(["list", TENANT]);
            assert.equal(stale.code, 1);
            assert.match(
                stale.stdout,
                new RegExp(
                    `│ ${TENANT}\\s+│ ${oldKey.replace(/\./g, "\\.")} │ 30\\.0\\s+│ [\\d.]+ MiB │ stale\\s+│ the newest backup is 30\\.0 h old \\(more than 26 h\\)`,
                ),
            );
            assert.equal(stale.stderr, `1 tenant(s) without a good backup in the last 26 h: ${TENANT} (stale)\n`);
            const later = await backup(["list", TENANT, "--stale-hours", "31", "--json"]);
            assert.equal(later.code, 0, later.stderr);
            const doc = json(later);
            assert.deepEqual([doc.ok, doc.staleAfterHours, (doc.tenants as { status: string }[])[0].status], [true, 31, "ok"]);
            const typo = await backup(["list", "--stale-hours", "1e3"]);
            assert.equal(typo.code, 1);
            assert.match(typo.stderr, /--stale-hours must be a whole number from 1 to 8760 \(decimal digits only\), got "1e3"/);
        } finally {
            rmSync(folder, { recursive: true, force: true });
            renameSync(aside, folder);
        }
    });

    it("an altered dump of the right size fails verify at its sha256 (exit 1, --json with the reason); list cannot see it cheaply", async () => {
        const original = readFileSync(dumpFile());
        try {
            const altered = Buffer.from(original);
            altered[altered.length - 10] ^= 0xff;
            writeFileSync(dumpFile(), altered);
            const run = await backup(["verify", TENANT, "--json"]);
            assert.equal(run.code, 1);
            const manifest = JSON.parse(readFileSync(`${dumpFile()}.json`, "utf8")) as BackupManifest;
            const sha = createHash("sha256").update(altered).digest("hex");
            assert.deepEqual(json(run), {
                ok: false,
                tenantId: TENANT,
                error: {
                    kind: "corrupt",
                    step: "verify checksum",
                    message:
                        `tenant ${TENANT} (server local), step "verify checksum": the dump ${key} does not match its manifest: read ${altered.length} bytes with sha256 ${sha}, ` +
                        `the manifest records ${manifest.sizeBytes} bytes with sha256 ${manifest.sha256}. Fix: restore another backup (npm run backup -- list).`,
                },
            });
            // Same size, signed manifest intact: list's cheap check (no download) passes it; verify is the check that reads it.
            const listed = await backup(["list", TENANT, "--json"]);
            assert.deepEqual([listed.code, (json(listed).tenants as { status: string }[])[0].status], [0, "ok"]);
            // Printed once: in the document, not again on stderr.
            assert.doesNotMatch(run.stderr, /verify checksum/);
            // Garbage of the right size, with a manifest re-signed to match: the header check refuses it.
            const garbage = Buffer.alloc(original.length, 0x41);
            writeFileSync(dumpFile(), garbage);
            writeFileSync(
                `${dumpFile()}.json`,
                JSON.stringify(resigned({ ...manifest, sha256: createHash("sha256").update(garbage).digest("hex") })),
            );
            const header = await backup(["verify", TENANT]);
            assert.equal(header.code, 1);
            assert.equal(header.stdout, "");
            assert.equal(
                header.stderr
                    .split("\n")
                    .filter((line) => line.startsWith("tenant "))
                    .join("\n"),
                `tenant ${TENANT} (server local), step "check archive header": the dump ${key} is not a pg_dump custom archive: ` +
                    `it does not start with the pg_dump magic bytes PGDMP. Fix: restore another backup.`,
            );
            writeFileSync(`${dumpFile()}.json`, JSON.stringify(manifest));
        } finally {
            writeFileSync(dumpFile(), original);
        }
    });

    it("a truncated dump is bad in list (table and --json) and in verify, exit 1; an edited manifest is bad by its signature", async () => {
        const original = readFileSync(dumpFile());
        const manifestText = readFileSync(`${dumpFile()}.json`, "utf8");
        const manifest = JSON.parse(manifestText) as BackupManifest;
        try {
            truncateSync(dumpFile(), Math.floor(original.length / 2));
            const half = Math.floor(original.length / 2);
            const reason =
                `check dump size: the dump ${key} has ${half} bytes but its manifest records ${original.length} (truncated or replaced). ` +
                "Fix: restore another backup.";
            const table = await backup(["list", TENANT]);
            assert.equal(table.code, 1);
            assert.ok(table.stdout.includes(`│ bad    │ ${reason} │`), table.stdout);
            assert.equal(table.stderr, `1 tenant(s) without a good backup in the last 26 h: ${TENANT} (bad)\n`);
            const listed = await backup(["list", TENANT, "--json"]);
            assert.equal(listed.code, 1);
            const [tenant] = json(listed).tenants as Record<string, unknown>[];
            assert.deepEqual(
                [tenant.status, tenant.reason, (tenant.newest as { check: unknown }).check],
                ["bad", reason, { status: "bad", reason, signatureChecked: true }],
            );
            const verified = await backup(["verify", TENANT]);
            assert.equal(verified.code, 1);
            assert.equal(verified.stderr, `tenant ${TENANT} (server local), step "${reason.replace(": ", '": ')}\n`);

            writeFileSync(dumpFile(), original);
            writeFileSync(`${dumpFile()}.json`, JSON.stringify({ ...manifest, schemaVersion: "9999_forged" }));
            const forged = await backup(["list", TENANT, "--json"]);
            assert.equal(forged.code, 1);
            const [edited] = json(forged).tenants as { status: string; reason: string }[];
            assert.equal(edited.status, "bad");
            assert.match(
                edited.reason,
                /^authenticate manifest: backups\/bak_safe\/.*\.dump\.json: .*; refusing to restore it\. Fix: restore another backup/,
            );
        } finally {
            writeFileSync(dumpFile(), original);
            writeFileSync(`${dumpFile()}.json`, manifestText);
        }
    });
});

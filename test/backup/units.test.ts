/** Pure logic of the backup tool, table-driven: no database, no bucket. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import fc from "fast-check";
import { parseArchiveHeader, ArchiveHeaderError } from "../../src/backup/archive-header";
import { assertTenantId } from "../../src/config/tenant-id";
import { isBeforeRestoreDatabase, restoreDatabaseNames } from "../../src/naming";
import { backupStamp, compactStamp, parseBackupStamp } from "../../src/backup/stamps";
import { loadInventory, parseInventory } from "../../src/backup/inventory";
import { backupKey, backupKeyTime } from "../../src/backup/manifest";
import { PgTools, parseToolVersion, toolsProblem } from "../../src/backup/pg-tools";
import * as privileges from "../../src/backup/privileges";
import { settingStatement, splitSettingList } from "../../src/backup/privileges";
import { sampleTargets } from "../../src/backup/drill";
import { redact } from "../../src/shared/redact";
import * as component from "../../components/tenant-database";

describe("backup tool: pure logic", () => {
    it("names backups by UTC time so keys sort by time, and reads the time back", () => {
        const at = new Date("2031-01-02T03:04:05.678Z");
        assert.equal(backupKey("", "acme", at), "backups/acme/20310102T030405.678Z.dump");
        assert.equal(backupKey("prod/", "acme", at), "prod/backups/acme/20310102T030405.678Z.dump");
        assert.equal(backupKeyTime("prod/backups/acme/20310102T030405.678Z.dump")?.toISOString(), at.toISOString());
        assert.equal(backupKeyTime("backups/acme/notes.dump"), undefined);
        assert.equal(compactStamp(at), "20310102030405");
        fc.assert(
            fc.property(
                fc.date({ min: new Date("2000-01-01"), max: new Date("2999-12-31"), noInvalidDate: true }),
                fc.date({ min: new Date("2000-01-01"), max: new Date("2999-12-31"), noInvalidDate: true }),
                (a, b) => {
                    assert.equal(parseBackupStamp(backupStamp(a))?.getTime(), a.getTime());
                    assert.equal(Math.sign(a.getTime() - b.getTime()), Math.sign(backupStamp(a).localeCompare(backupStamp(b))));
                },
            ),
        );
    });

    it("validates tenant ids so that every derived database name fits in 63 bytes", () => {
        assert.deepEqual(restoreDatabaseNames("acme", "20310102030405"), {
            live: "erp_acme",
            restore: "erp_acme_restore_20310102030405",
            drill: "erp_acme_drill_20310102030405",
            beforeRestore: "erp_acme_before_restore_20310102030405",
        });
        assertTenantId("a".repeat(29));
        assert.throws(
            () => assertTenantId("a".repeat(30)),
            /Invalid tenant id "a{30}": it is longer than 29 characters: the database a restore keeps, erp_<id>_before_restore_<timestamp>, would pass PostgreSQL's 63-byte identifier limit/,
        );
        for (const bad of ["", "Acme", "1acme", "ac-me", 'a"; DROP DATABASE x; --', "acme\u0000"]) {
            assert.throws(() => assertTenantId(bad), /Invalid tenant id/, bad);
        }
        assert.equal(isBeforeRestoreDatabase("acme", "erp_acme_before_restore_20310102030405"), true);
        for (const other of [
            "erp_acme",
            "erp_acme_before_restore_2031",
            "erp_acme_x_before_restore_20310102030405",
            "erp_acmex_before_restore_20310102030405",
        ]) {
            assert.equal(isBeforeRestoreDatabase("acme", other), false, other);
        }
    });

    it("reads pg_dump versions and refuses tools older than the server, naming the fix", () => {
        assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"), { version: "15.18", major: 15 });
        assert.deepEqual(parseToolVersion("pg_restore (PostgreSQL) 17beta1"), { version: "17", major: 17 });
        assert.equal(parseToolVersion("something else"), undefined);
        const tools = (dump: number, restore: number): PgTools => ({
            pgDump: { path: "/usr/bin/pg_dump", version: `${dump}.2`, major: dump },
            pgRestore: { path: "/usr/bin/pg_restore", version: `${restore}.2`, major: restore },
        });
        assert.equal(toolsProblem(tools(15, 15), 15), undefined);
        assert.equal(toolsProblem(tools(16, 16), 15), undefined);
        assert.equal(
            toolsProblem(tools(14, 16), 15),
            "pg_dump 14.2 (/usr/bin/pg_dump) is older than the PostgreSQL 15 server: install PostgreSQL client tools of at least version 15 (e.g. apt-get install postgresql-client-15) and/or set PG_BIN_DIR to their bin directory.",
        );
        assert.match(
            toolsProblem(tools(16, 15), 16)!,
            /^pg_restore 15.2 \(\/usr\/bin\/pg_restore\) is older than the PostgreSQL 16 server/,
        );
    });

    it("parses the header of a custom archive and rejects what is not one", () => {
        // The first bytes of `pg_dump --format=custom` of database "a" from PostgreSQL 15.18.
        const header = Buffer.from(
            "5047444d50010e0004080101010000000001000000000d000000000c000000001b000000000a000000007e0000000000000000000100000061000500000031352e3138000500000031352e3138",
            "hex",
        );
        assert.deepEqual(parseArchiveHeader(header), {
            archiveVersion: "1.14",
            format: 1,
            database: "a",
            serverVersion: "15.18",
            pgDumpVersion: "15.18",
        });
        assert.equal(parseArchiveHeader(header.subarray(0, 40)), undefined, "needs more bytes");
        assert.throws(() => parseArchiveHeader(Buffer.from("-- PostgreSQL database dump\n")), ArchiveHeaderError);
        assert.throws(() => parseArchiveHeader(Buffer.from("PGDMP\u0002\u0000\u0000")), /unsupported archive version 2.0/);
    });

    it("re-creates database settings as pg_dump would, quoting names and list values", () => {
        const table: [string, string][] = [
            ["statement_timeout=45s", `ALTER DATABASE "d" SET "statement_timeout" = '45s'`],
            ['search_path="$user", public, core', `ALTER DATABASE "d" SET "search_path" = '$user', 'public', 'core'`],
            ['search_path="My Schema", "a""b"', `ALTER DATABASE "d" SET "search_path" = 'My Schema', 'a"b'`],
            ["app.tenant=it's", `ALTER DATABASE "d" SET "app"."tenant" = 'it''s'`],
            ["search_path=", `ALTER DATABASE "d" SET "search_path" = ''`],
        ];
        for (const [entry, statement] of table) assert.equal(settingStatement(`DATABASE "d"`, entry), statement, entry);
        assert.throws(() => settingStatement(`DATABASE "d"`, "x; DROP TABLE t=1"), /Unexpected setting name/);
        assert.deepEqual(splitSettingList(' a ,"b c",  d'), ["a", "b c", "d"]);
    });

    it("declares the same privileges as the TenantDatabase component", () => {
        for (const name of [
            "APP_TABLE_PRIVILEGES",
            "APP_AUDIT_TABLE_PRIVILEGES",
            "APP_SEQUENCE_PRIVILEGES",
            "READONLY_TABLE_PRIVILEGES",
        ] as const) {
            assert.deepEqual(privileges[name], component[name], name);
        }
    });

    it("parses the documented example inventory, taking passwords from the environment only", () => {
        const file = path.join(__dirname, "../../src/backup/inventory.example.yaml");
        const inventory = loadInventory(file, { TENANTDB_EU_1_PASSWORD: "s3cret-from-env", TENANTDB_BACKUP_SIGNING_KEY: "ab".repeat(32) });
        // The key's id is sha256("ab" * 32 bytes)'s first 16 hex digits; the bytes themselves are not inspectable.
        assert.equal(inventory.signingKey?.id, createHash("sha256").update(Buffer.alloc(32, 0xab)).digest("hex").slice(0, 16));
        assert.equal(JSON.stringify(inventory.signingKey), `"[signing key ${inventory.signingKey?.id}]"`);
        const server = {
            name: "eu-1",
            host: "tenantdb-eu-1.abcdefghij.eu-central-1.rds.amazonaws.com",
            port: 5432,
            user: "tenantdb_admin",
            password: "s3cret-from-env",
            ssl: "verify-full",
            sslRootCert: "/etc/ssl/certs/rds-global-bundle.pem",
        };
        assert.deepEqual(inventory, {
            s3: { region: "eu-central-1" },
            signingKey: inventory.signingKey,
            tenants: [
                {
                    tenantId: "acme",
                    server,
                    bucket: "tdb-prod-acme-20250101000000000000000001",
                    kmsKeyId: "arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                    destination: "s3://tdb-prod-acme-20250101000000000000000001/",
                },
                { tenantId: "globex", server, bucket: undefined, kmsKeyId: undefined, destination: "file:///var/backups/tenantdb" },
            ],
        });
        assert.throws(() => loadInventory(file, {}), /servers.eu-1.passwordEnv: environment variable TENANTDB_EU_1_PASSWORD is not set/);
    });

    it("reports every inventory problem at once, with its path", () => {
        const raw = {
            servers: { a: { host: "db", user: "admin", passwordEnv: "PW" } },
            tenants: [
                { id: "Bad-Id", server: "a", bucket: "b-1" },
                { id: "t1", server: "nope", destination: "s3://bucket-x/" },
                { id: "t2", server: "a", bucket: "bucket-y", destination: "s3://bucket-z/", kmsKeyId: "k" },
                { id: "t3", server: "a", destination: "ftp://x/" },
            ],
        };
        assert.throws(
            () => parseInventory(raw, { PW: "x" }, "inv.yaml"),
            (error: Error) => {
                assert.equal(
                    error.message,
                    [
                        "Invalid backup inventory inv.yaml:",
                        '  tenants.0 (Bad-Id): Invalid tenant id "Bad-Id": it must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp',
                        "  tenants.0 (Bad-Id): kmsKeyId is required for s3:// destinations (backups are encrypted with the tenant's KMS key)",
                        '  tenants.1 (t1): unknown server "nope"; declare it under servers',
                        "  tenants.1 (t1): kmsKeyId is required for s3:// destinations (backups are encrypted with the tenant's KMS key)",
                        "  tenants.2 (t2): destination bucket bucket-z is not the tenant's bucket bucket-y",
                        "  tenants.3 (t3): destination ftp://x/: unsupported scheme ftp:; use s3:// or file://",
                    ].join("\n"),
                );
                return true;
            },
        );
    });

    it("refuses unknown fields everywhere, the old ssl key naming sslmode, and bad values with the fix, all at once (issue 13)", () => {
        const raw = {
            typo: 1,
            s3: { region: "eu-central-1", endpoint: "not a url", forcePath: true },
            servers: {
                "eu-1": { host: "db", user: "admin", passwordEnv: "PW", ssl: "verify-full", sslRootCert: "/ca.pem", colour: "red" },
                "eu-2": { host: "db2", user: "admin", passwordEnv: "PW", port: "5432x", sslmode: "prefer" },
            },
            tenants: [{ id: "acme", server: "eu-1", destination: "file:///b", bucket_name: "x" }, "globex", { id: 7, server: "eu-2" }],
            signingKeyEnv: "1-not-a-name",
        };
        const message = (() => {
            try {
                parseInventory(raw, { PW: "x" }, "inv.yaml");
                return "parsed";
            } catch (error) {
                return (error as Error).message;
            }
        })();
        assert.equal(
            message,
            [
                "Invalid backup inventory inv.yaml:",
                "  typo: is not a known field; the fields here are s3, servers, tenants, signingKeyEnv",
                "  s3.endpoint: must be a URL, e.g. endpoint: http://127.0.0.1:9000",
                "  s3.forcePath: is not a known field; the fields here are region, endpoint, forcePathStyle",
                "  servers.eu-1.colour: is not a known field; the fields here are host, port, user, passwordEnv, sslmode, sslRootCert",
                "  servers.eu-1.ssl: is the old name of sslmode (the one TLS setting of stack config and the inventory); rename it: sslmode: verify-full (one of disable, require, verify-ca, verify-full)",
                "  servers.eu-2.port: must be a port number from 1 to 65535, without quotes, e.g. port: 5432",
                "  servers.eu-2.sslmode: must be one of disable, require, verify-ca, verify-full, e.g. sslmode: verify-full",
                "  tenants.0.bucket_name: is not a known field; the fields here are id, server, bucket, kmsKeyId, destination",
                "  tenants.1: must be a mapping (id, server, bucket, kmsKeyId, destination)",
                "  tenants.2.id: must be a non-empty string, e.g. id: acme",
                "  signingKeyEnv: must be the name of an environment variable (letters, digits and _), e.g. signingKeyEnv: TENANTDB_BACKUP_SIGNING_KEY",
            ].join("\n"),
        );
        assert.doesNotMatch(message, /Invalid input|received|NaN|expected/);
        // sslmode is read into the server's TLS mode; a local host defaults to disable, another to require.
        const parsed = parseInventory(
            {
                servers: {
                    a: { host: "db", user: "u", passwordEnv: "PW", sslmode: "verify-ca" },
                    b: { host: "localhost", user: "u", passwordEnv: "PW" },
                },
                tenants: [
                    { id: "t1", server: "a", destination: "file:///x" },
                    { id: "t2", server: "b", destination: "file:///x" },
                ],
            },
            { PW: "x" },
        );
        assert.deepEqual(
            parsed.tenants.map((t) => t.server.ssl),
            ["verify-ca", "disable"],
        );
    });

    it("samples tenants without repeats and redacts secrets", () => {
        fc.assert(
            fc.property(fc.uniqueArray(fc.string(), { maxLength: 20 }), fc.nat(25), (items, n) => {
                const sample = sampleTargets(items, n);
                assert.equal(sample.length, Math.min(n, items.length));
                assert.equal(new Set(sample).size, sample.length);
                assert.ok(sample.every((item) => items.includes(item)));
            }),
        );
        assert.equal(redact("password=hunter22 failed for hunter22", ["hunter22", undefined]), "password=[redacted] failed for [redacted]");
    });
});

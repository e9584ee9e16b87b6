/**
 * The documented commands, run as an operator runs them (`tsx scripts/backup.ts`, i.e.
 * `npm run backup --`), with an inventory file and a file:// destination: exit codes and
 * output, and the password never on a command line (it travels in the environment).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { tenantNames } from "../../src/naming";
import { createDeclaredTenant as createTenantDatabase, dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";
import {
    adminConfig,
    backupServer,
    dropExtraDatabases,
    fingerprints,
    seedErpTenant,
    tenantDatabases,
    TEST_SIGNING_KEY_HEX,
    runBackupCli,
} from "./helpers";

const TENANT = "bak_cli";
const MISSING = "bak_cli_none";

const backup = runBackupCli;

describe("backup CLI (file:// destination)", function () {
    this.timeout(60_000);
    let dir: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
        await dropTenantDatabase(adminConfig(), TENANT);
        await createTenantDatabase(adminConfig(), TENANT);
        await seedErpTenant(TENANT, 0.2);
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-cli-"));
        const server = backupServer();
        writeFileSync(
            path.join(dir, "inventory.yaml"),
            stringify({
                servers: {
                    local: { host: server.host, port: server.port, user: server.user, passwordEnv: "TENANTDB_TEST_ADMIN_PASSWORD" },
                },
                tenants: [
                    { id: TENANT, server: "local", destination: `file://${dir}/store` },
                    { id: MISSING, server: "local", destination: `file://${dir}/store` },
                ],
            }),
        );
        env = {
            ...process.env,
            TENANTDB_BACKUP_CONFIG: path.join(dir, "inventory.yaml"),
            TENANTDB_TEST_ADMIN_PASSWORD: server.password,
            TENANTDB_BACKUP_SIGNING_KEY: TEST_SIGNING_KEY_HEX,
        };
    });

    after(async () => {
        await dropExtraDatabases(TENANT);
        await dropTenantDatabase(adminConfig(), TENANT);
        rmSync(dir, { recursive: true, force: true });
    });

    it("backs up, lists, drills, restores and drops the previous copy; a tenant without backups fails list and drill", async () => {
        const before = await fingerprints(tenantNames(TENANT).database);
        const done = await backup(["run", TENANT], env);
        assert.equal(done.code, 0, done.stderr);
        assert.match(done.stdout, /bak_cli\s+│ ok\s+│ backups\/bak_cli\/\d{8}T\d{6}\.\d{3}Z\.dump/);
        const files = readdirSync(path.join(dir, "store/backups", TENANT)).sort();
        assert.equal(files.length, 2);
        assert.match(files[0], /^\d{8}T\d{6}\.\d{3}Z\.dump$/);
        assert.equal(files[1], `${files[0]}.json`);
        assert.equal(JSON.parse(readFileSync(path.join(dir, "store/backups", TENANT, files[1]), "utf8")).tenantId, TENANT);

        const listed = await backup(["list"], env);
        assert.equal(listed.code, 1, "a tenant without a backup fails the list");
        assert.match(listed.stdout, /bak_cli\s+│ backups\/bak_cli\/.*│ 0\.0\s+│.*│ ok/);
        assert.match(listed.stdout, /bak_cli_none.*│ missing │ no complete backup in file:\/\/.*\/store\/backups\/bak_cli_none\/ /);
        assert.equal(listed.stderr, "1 tenant(s) without a good backup in the last 26 h: bak_cli_none (missing)\n");

        const drilled = await backup(["drill", TENANT, MISSING], env);
        assert.equal(drilled.code, 1);
        assert.match(drilled.stdout, /bak_cli\s+│ ok /);
        assert.match(drilled.stdout, /bak_cli_none\s+│ MISSING/);
        assert.match(drilled.stderr, /Drill failed for 1 of 2 tenant\(s\)/);

        const restored = await backup(["restore", TENANT, "--yes"], env);
        assert.equal(restored.code, 0, restored.stderr);
        assert.match(
            restored.stdout,
            /^erp_bak_cli restored from backups\/bak_cli\/.*\.dump \(taken .*\) and verified in [\d.]+ s\.\nThe previous database holds no row the restored one lacks\.\nThe previous database is kept as (erp_bak_cli_before_restore_\d{14}); drop it with: npm run backup -- drop-previous bak_cli erp_bak_cli_before_restore_\d{14}\n$/,
        );
        const previous = /kept as (erp_bak_cli_before_restore_\d{14})/.exec(restored.stdout)![1];
        const replacedBy = /restored from (backups\/bak_cli\/\S+\.dump)/.exec(restored.stdout)![1];
        assert.deepEqual(await fingerprints(tenantNames(TENANT).database), before);
        const listedCopies = await backup(["drop-previous", TENANT], env);
        assert.match(
            listedCopies.stdout,
            new RegExp(`^${previous}: ${previous} held no row that the restore of ${replacedBy} \\(\\S+\\) lacked\\.\n$`),
        );
        // No terminal to ask on (the test's stdin is a pipe): refused without --yes, and the copy stays.
        const unconfirmed = await backup(["drop-previous", TENANT, previous], env);
        assert.equal(unconfirmed.code, 2);
        assert.match(
            unconfirmed.stderr,
            new RegExp(
                `Refusing to drop ${previous} without confirmation: there is no terminal to ask on\\. Pass --yes to drop it\\.\nKept ${previous}\\.\n$`,
            ),
        );
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_cli", previous]);
        assert.equal((await backup(["drop-previous", TENANT, previous, "--yes"], env)).code, 0);
        assert.deepEqual(await tenantDatabases(TENANT), ["erp_bak_cli"]);

        const refused = await backup(["restore", MISSING, "--yes"], env);
        assert.equal(refused.code, 1);
        assert.equal(refused.stdout, "");
        assert.match(
            refused.stderr,
            /^tenant bak_cli_none \(server local\), step "find latest backup": no complete backup under file:\/\/.*\/store\/backups\/bak_cli_none\/\. Fix: run a backup first: npm run backup -- bak_cli_none\n$/,
        );
        // The admin password reached the tools through the environment only, never in output.
        for (const output of [done, listed, drilled, restored, refused])
            assert.equal(`${output.stdout}${output.stderr}`.includes(env.TENANTDB_TEST_ADMIN_PASSWORD!), false);
        assert.equal(existsSync(path.join(dir, "store/backups", MISSING)), false);
    });
});

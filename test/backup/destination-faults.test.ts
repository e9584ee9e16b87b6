/**
 * Unwritable places, for real: file:// destinations and restore temp folders on read-only and
 * full tmpfs mounts, a destination that is a file or sits under one, and one under /proc (which
 * refuses new folders with ENOENT, on which Node's recursive mkdir spins forever). Each fault is
 * one clear message naming the path and the fix, the CLI exits 1 without a stack trace, nothing
 * left under a name that looks complete, and the live database as it was.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { BackupResult, backupTenant } from "../../src/backup/backup";
import { TenantBackupError } from "../../src/backup/errors";
import { TenantBackupTarget } from "../../src/backup/inventory";
import { restoreTenant } from "../../src/backup/restore";
import { tenantNames } from "../../src/naming";
import { createDeclaredTenant, dropDeclaredTenant } from "../support/declared-tenants";
import {
    TEST_SIGNING_KEY_HEX,
    adminConfig,
    allowsConnections,
    backupServer,
    dropExtraDatabases,
    fingerprints,
    seedErpTenant,
    tenantDatabases,
    testSigningKey,
    CliRun,
    runBackupCli,
} from "./helpers";

const TENANT = "bak_dest";
const live = tenantNames(TENANT).database;
const PAGE = 4096;

/** `npm run backup -- <args>` with an inventory whose one tenant writes to `destination`. */
async function cli(dir: string, name: string, destination: string, args: string[]): Promise<CliRun> {
    const server = backupServer();
    const inventory = path.join(dir, `${name}.yaml`);
    writeFileSync(
        inventory,
        stringify({
            servers: { local: { host: server.host, port: server.port, user: server.user, passwordEnv: "TENANTDB_TEST_ADMIN_PASSWORD" } },
            tenants: [{ id: TENANT, server: "local", destination }],
        }),
    );
    const env = {
        ...process.env,
        TENANTDB_BACKUP_CONFIG: inventory,
        TENANTDB_TEST_ADMIN_PASSWORD: server.password,
        TENANTDB_BACKUP_SIGNING_KEY: TEST_SIGNING_KEY_HEX,
    };
    // The time-out is a safety net only, so a regression cannot leave a spinning process behind; the
    // assertions are on how the process exits, not on how long it takes.
    return runBackupCli(args, env, 45_000);
}

/** A regular expression matching `text` exactly, `<stamp>` standing for a backup's time stamp. */
function exactly(text: string): RegExp {
    const escaped = text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&").replace(/<stamp>/g, "\\d{8}T\\d{6}\\.\\d{3}Z");
    return new RegExp(`^${escaped}$`);
}

/** The CLI failed once, with exactly this message and no stack trace. */
function assertFailedWith(result: CliRun, message: RegExp): void {
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
    const lines = result.stderr.split("\n").filter((line) => line.startsWith("tenant "));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], message);
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
        .sort();
}

async function rejection(promise: Promise<unknown>): Promise<TenantBackupError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof TenantBackupError, `expected a TenantBackupError, got ${error}`);
        return error;
    }
    assert.fail("expected a rejection");
}

describe("unwritable destinations and temp folders (real tmpfs mounts, real PostgreSQL)", function () {
    this.timeout(60_000);
    let dir: string;
    const mounts: string[] = [];
    let good: BackupResult;
    let target: TenantBackupTarget;
    let liveBefore: Record<string, string>;

    /** A tmpfs of its own at `at` (root only: these faults need a real small or read-only file system). */
    function mountTmpfs(at: string, options: string): string {
        mkdirSync(at, { recursive: true });
        execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", at]);
        mounts.push(at);
        return at;
    }
    const readOnly = (at: string) => execFileSync("mount", ["-o", "remount,ro", at]);

    before(async () => {
        assert.equal(process.getuid?.(), 0, "these tests mount tmpfs file systems and must run as root");
        await dropDeclaredTenant(adminConfig(), TENANT);
        await createDeclaredTenant(adminConfig(), TENANT);
        await seedErpTenant(TENANT, 0.5);
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-destfaults-"));
        writeFileSync(path.join(dir, "afile"), "not a folder\n");
        target = { tenantId: TENANT, server: backupServer(), destination: `file://${dir}/store` };
        good = await backupTenant(target, { signingKey: testSigningKey });
        liveBefore = await fingerprints(live);
        assert.ok(good.manifest.sizeBytes > 4 * PAGE, `the dump (${good.manifest.sizeBytes} bytes) must not fit a 16 KiB tmpfs`);
    });

    afterEach(async () => {
        // Whatever failed, the live database is there under its name, unchanged and open, and nothing else is.
        assert.deepEqual(await tenantDatabases(TENANT), [live]);
        assert.equal(await allowsConnections(live), true);
        assert.deepEqual(await fingerprints(live), liveBefore);
    });

    after(async () => {
        for (const at of mounts.reverse()) execFileSync("umount", [at]);
        await dropExtraDatabases(TENANT);
        await dropDeclaredTenant(adminConfig(), TENANT);
        rmSync(dir, { recursive: true, force: true });
    });

    it("a backup to an unwritable file:// destination fails with the path and the fix, exit 1, and leaves nothing that looks complete", async () => {
        const ro = mountTmpfs(path.join(dir, "ro"), "size=1m");
        const before = await backupTenant({ ...target, destination: `file://${ro}/kept` }, { signingKey: testSigningKey });
        readOnly(ro);
        const full = mountTmpfs(path.join(dir, "full"), "size=16k");
        // Room for the dump, rounded up to whole pages, and not one page more: the manifest does not fit.
        const dumpOnly = mountTmpfs(path.join(dir, "dump-only"), `size=${Math.ceil(good.manifest.sizeBytes / PAGE) * 4}k`);

        const backupTo = (name: string, destination: string) => cli(dir, name, destination, ["run", TENANT]);
        const [fresh, kept, isFile, underFile, proc, fullDisk, noRoomForManifest] = await Promise.all([
            backupTo("fresh", `file://${ro}/fresh`),
            backupTo("kept", `file://${ro}/kept`),
            backupTo("is-file", `file://${dir}/afile`),
            backupTo("under-file", `file://${dir}/afile/store`),
            backupTo("proc", "file:///proc/self/tenantdb-store"),
            backupTo("full", `file://${full}/store`),
            backupTo("dump-only", `file://${dumpOnly}/store`),
        ]);
        const fix = (store: string) => ` Fix: check that file://${store}/ exists and that these credentials may write to it.`;
        const prefix = `tenant ${TENANT} (server local), step "upload dump": cannot write file://`;
        const readOnlyFix = "remount it read-write, or use a destination on a writable disk.";
        assertFailedWith(
            fresh,
            exactly(
                `${prefix}${ro}/fresh/backups/${TENANT}/<stamp>.dump: ${ro} is on a read-only file system (EROFS); ${readOnlyFix}${fix(`${ro}/fresh`)}`,
            ),
        );
        assertFailedWith(
            kept,
            exactly(
                `${prefix}${ro}/kept/backups/${TENANT}/<stamp>.dump: ${ro}/kept/backups/${TENANT} is on a read-only file system (EROFS); ` +
                    `${readOnlyFix}${fix(`${ro}/kept`)}`,
            ),
        );
        const aFile = `${dir}/afile is a file, not a folder (ENOTDIR); point the destination at a folder.`;
        assertFailedWith(isFile, exactly(`${prefix}${dir}/afile/backups/${TENANT}/<stamp>.dump: ${aFile}${fix(`${dir}/afile`)}`));
        assertFailedWith(
            underFile,
            exactly(`${prefix}${dir}/afile/store/backups/${TENANT}/<stamp>.dump: ${aFile}${fix(`${dir}/afile/store`)}`),
        );
        assertFailedWith(
            proc,
            exactly(
                `${prefix}/proc/self/tenantdb-store/backups/${TENANT}/<stamp>.dump: /proc/self refuses new folders ` +
                    "(mkdir /proc/self/tenantdb-store: ENOENT); point the destination at a folder on a regular, writable file system." +
                    fix("/proc/self/tenantdb-store"),
            ),
        );
        const fullFix = "free space on that disk, or use a destination on a larger one.";
        assertFailedWith(
            fullDisk,
            exactly(
                `${prefix}${full}/store/backups/${TENANT}/<stamp>.dump: the disk holding ${full}/store/backups/${TENANT} is full (ENOSPC); ` +
                    `${fullFix}${fix(`${full}/store`)}`,
            ),
        );
        assertFailedWith(
            noRoomForManifest,
            exactly(
                `tenant ${TENANT} (server local), step "write manifest": cannot write file://${dumpOnly}/store/backups/${TENANT}/<stamp>.dump.json: ` +
                    `the disk holding ${dumpOnly}/store/backups/${TENANT} is full (ENOSPC); ${fullFix} Fix: check that file://${dumpOnly}/store/ is writable.`,
            ),
        );
        for (const result of [fresh, kept, isFile, underFile, proc, fullDisk, noRoomForManifest]) {
            assert.match(result.stdout, new RegExp(`${TENANT}\\s+│ FAILED `));
            assert.equal(result.stderr.split("\n").at(-2), "1 of 1 backups failed.");
        }
        // The read-only store keeps exactly its one backup; the full ones hold no file at all, partial or not.
        assert.deepEqual(filesUnder(`${ro}/kept`), [before.key, `${before.key}.json`]);
        assert.deepEqual(filesUnder(full), []);
        assert.deepEqual(filesUnder(dumpOnly), []);
    });

    it("list and restore from a destination that is a file name the file and fail with exit 1", async () => {
        const [listed, restored] = await Promise.all([
            cli(dir, "list-file", `file://${dir}/afile`, ["list"]),
            cli(dir, "restore-file", `file://${dir}/afile`, ["restore", TENANT, "--yes"]),
        ]);
        const problem = `cannot list file://${dir}/afile/backups/${TENANT}/: ${dir}/afile is a file, not a folder (ENOTDIR); point the destination at a folder.`;
        assert.equal(listed.code, 1);
        const listFailure = `list backups: ${problem} Fix: check that file://${dir}/afile/ exists and is readable.`;
        assert.ok(listed.stdout.replace(/\s*│\s*/g, " ").includes(`unreachable ${listFailure}`), listed.stdout);
        assert.equal(restored.stdout, "");
        assertFailedWith(
            restored,
            exactly(
                `tenant ${TENANT} (server local), step "list backups": ${problem} Fix: check that file://${dir}/afile/ exists and that these credentials may list it.`,
            ),
        );
    });

    it("restore --jobs 2 refuses a temp folder without room for the dump up front: bytes needed vs free, and the fix (CLI, exit 1)", async () => {
        const small = mountTmpfs(path.join(dir, "small-temp"), "size=16k");
        const free = statfsSync(small).bavail * statfsSync(small).bsize;
        const restored = await cli(dir, "small-temp", `file://${dir}/store`, [
            "restore",
            TENANT,
            "--yes",
            "--jobs",
            "2",
            "--temp-dir",
            small,
        ]);
        const size = good.manifest.sizeBytes;
        const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB (${n} bytes)`;
        assert.equal(restored.stdout, "");
        assertFailedWith(
            restored,
            exactly(
                `tenant ${TENANT} (server local), step "copy dump to temp folder": the temp folder ${small} has ${kib(free)} free, ` +
                    `but the dump ${good.key} needs ${kib(size)} (its manifest's sizeBytes). Fix: pass --temp-dir with a folder on a disk ` +
                    `with at least ${kib(size)} free, or --jobs 1 to stream the dump into pg_restore without a local copy.`,
            ),
        );
        assert.deepEqual(readdirSync(small), []);
    });

    it("restore --jobs 2 into a temp folder that fills up, or is read-only, missing or a file: a clear error, and the temp folder is left empty", async () => {
        // Inodes for the temp folder and not one more: the statfs check passes, creating the copy fails with ENOSPC.
        const noInodes = mountTmpfs(path.join(dir, "no-inodes"), "size=1m,nr_inodes=2");
        const readOnlyTemp = mountTmpfs(path.join(dir, "ro-temp"), "size=1m");
        readOnly(readOnlyTemp);
        const restoreWith = (tempDir: string) => rejection(restoreTenant(target, { jobs: 2, tempDir, signingKey: testSigningKey }));
        const size = `${(good.manifest.sizeBytes / 1024).toFixed(1)} KiB (${good.manifest.sizeBytes} bytes)`;
        const stream = "or --jobs 1 to stream the dump into pg_restore without a local copy.";
        const cases: [string, string, string][] = [
            [
                noInodes,
                `the temp folder ${noInodes} ran out of space (ENOSPC) while the dump ${good.key}, ${size}, was copied into it.`,
                `pass --temp-dir with a folder on a disk with at least ${size} free, ${stream}`,
            ],
            [
                readOnlyTemp,
                `the temp folder ${readOnlyTemp} is on a read-only file system (EROFS).`,
                `pass --temp-dir with a writable folder, ${stream}`,
            ],
            [
                `${dir}/no-such-folder`,
                `the temp folder ${dir}/no-such-folder does not exist (ENOENT).`,
                `pass --temp-dir with a writable folder, ${stream}`,
            ],
            [
                `${dir}/afile`,
                `the temp folder ${dir}/afile is not a folder (ENOTDIR).`,
                `pass --temp-dir with a writable folder, ${stream}`,
            ],
        ];
        for (const [tempDir, problem, fix] of cases) {
            const error = await restoreWith(tempDir);
            assert.deepEqual([error.kind, error.step, error.problem, error.fix], ["unreachable", "copy dump to temp folder", problem, fix]);
            assert.equal(error.message, `tenant ${TENANT} (server test), step "copy dump to temp folder": ${problem} Fix: ${fix}`);
        }
        assert.deepEqual(readdirSync(noInodes), []);
        assert.deepEqual(readdirSync(readOnlyTemp), []);
    });
});

/**
 * `backup doctor` against what killed runs really leave: a restore (--jobs 2) and a backup are
 * killed with SIGKILL mid-way, as an OOM killer or a CI timeout would, at a point a gate makes
 * certain: the real pg_restore (pg_dump) has finished, the tool has not. Doctor lists the full
 * scratch database, the tenant's blocked logins, the temp folder with the dump and the partial
 * object; --fix removes them; before-restore copies are listed as kept and never dropped; a
 * held restore lock or a live process keeps doctor's hands off.
 */
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { escapeIdentifier as id } from "pg";
import { stringify } from "yaml";
import { backupTenant } from "../../src/backup/backup";
import { DoctorFinding, doctor } from "../../src/backup/doctor";
import { TenantBackupTarget } from "../../src/backup/inventory";
import { locatePgTools } from "../../src/backup/pg-tools";
import { tempFolderPrefix } from "../../src/backup/restore/download";
import { restoreLockKey, tenantNames } from "../../src/naming";
import { createDeclaredTenant, dropDeclaredTenant } from "../support/declared-tenants";
import {
    TEST_SIGNING_KEY_HEX,
    adminConfig,
    backupServer,
    dropExtraDatabases,
    seedErpTenant,
    tenantDatabases,
    testSigningKey,
    withDatabase,
    CliRun,
    runBackupCli,
} from "./helpers";

const TENANT = "bak_doc";
const OTHER = "bak_doctwo";
const ROOT = path.join(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const COPY = "erp_bak_doc_before_restore_20310101020304";
const DRILL = "erp_bak_doctwo_drill_20310101020304";
/** Looks like a drill database of bak_doc, but another tenant's role owns it: not doctor's. */
const LOOKALIKE = "erp_bak_doc_drill_20310101020399";

/** Databases whose name starts with `prefix`. */
async function databasesLike(prefix: string): Promise<string[]> {
    return withDatabase("postgres", async (admin) => {
        const { rows } = await admin.query<{ datname: string }>(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            [prefix],
        );
        return rows.map((row) => row.datname);
    });
}

async function loginsOf(tenantId: string): Promise<Record<string, boolean>> {
    const names = tenantNames(tenantId);
    return withDatabase("postgres", async (admin) => {
        const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean }>(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY 1",
            [[names.appRole, names.migratorRole, names.readonlyRole]],
        );
        return Object.fromEntries(rows.map((row) => [row.rolname, row.rolcanlogin]));
    });
}

/** Creates a database as a restore or drill does (scripts run as the admin, from template0, closed to PUBLIC). */
async function createDatabase(name: string, owner?: string, allowConnections = true): Promise<void> {
    await withDatabase("postgres", async (admin) => {
        await admin.query(`CREATE DATABASE ${id(name)} TEMPLATE template0${owner ? ` OWNER ${id(owner)}` : ""}`);
        await admin.query(`REVOKE ALL ON DATABASE ${id(name)} FROM PUBLIC`);
        if (!allowConnections) await admin.query(`ALTER DATABASE ${id(name)} WITH ALLOW_CONNECTIONS false`);
    });
}

describe("backup doctor (real PostgreSQL, real pg_restore and pg_dump killed mid-way)", function () {
    this.timeout(60_000);
    let dir: string;
    let tempDir: string;
    let env: NodeJS.ProcessEnv;
    let targets: TenantBackupTarget[];
    /** PG_BIN_DIR whose tools run the real ones, then wait to be killed instead of exiting. */
    let gatedBin: string;

    const cli = (args: string[]): Promise<CliRun> => runBackupCli(args, env);

    /** Runs the CLI with the gated tools and kills its whole process group with SIGKILL once a tool has finished. */
    async function killedOnceToolFinished(args: string[]): Promise<void> {
        const gate = path.join(dir, `gate-${args[0]}`);
        const child: ChildProcess = spawn(TSX, ["scripts/backup.ts", ...args], {
            cwd: ROOT,
            env: { ...env, PG_BIN_DIR: gatedBin, TENANTDB_TEST_GATE: gate },
            detached: true,
            stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise((resolve) => child.once("exit", resolve));
        while (!existsSync(gate)) {
            if (child.exitCode !== null) assert.fail(`${args.join(" ")} ended before it could be killed: ${stderr}`);
            await sleep(25);
        }
        process.kill(-child.pid!, "SIGKILL");
        await exited;
        // The server ends a killed client's sessions (and so its advisory lock) once it sees the socket close.
        while (
            (await withDatabase("postgres", (a) => a.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'tenantdb-backup'")))
                .rowCount
        )
            await sleep(25);
    }

    before(async () => {
        for (const tenant of [TENANT, OTHER]) {
            await dropDeclaredTenant(adminConfig(), tenant);
            await createDeclaredTenant(adminConfig(), tenant);
        }
        await seedErpTenant(TENANT, 0.2);
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-doctor-"));
        tempDir = path.join(dir, "temp");
        mkdirSync(tempDir);
        const tools = await locatePgTools();
        gatedBin = path.join(dir, "bin");
        mkdirSync(gatedBin);
        for (const tool of [tools.pgDump.path, tools.pgRestore.path]) {
            writeFileSync(
                path.join(gatedBin, path.basename(tool)),
                `#!/bin/sh\n[ "$1" = "--version" ] && exec ${tool} "$@"\n${tool} "$@" || exit $?\ntouch "$TENANTDB_TEST_GATE"\nexec sleep 600\n`,
                { mode: 0o755 },
            );
        }
        const server = backupServer();
        const inventory = path.join(dir, "inventory.yaml");
        const destination = `file://${dir}/store`;
        writeFileSync(
            inventory,
            stringify({
                servers: {
                    local: { host: server.host, port: server.port, user: server.user, passwordEnv: "TENANTDB_TEST_ADMIN_PASSWORD" },
                },
                tenants: [TENANT, OTHER].map((tenant) => ({ id: tenant, server: "local", destination })),
            }),
        );
        env = {
            ...process.env,
            TENANTDB_BACKUP_CONFIG: inventory,
            TENANTDB_TEST_ADMIN_PASSWORD: server.password,
            TENANTDB_BACKUP_SIGNING_KEY: TEST_SIGNING_KEY_HEX,
        };
        targets = [TENANT, OTHER].map((tenant) => ({ tenantId: tenant, server: { ...server, name: "local" }, destination }));
    });

    after(async () => {
        for (const tenant of [TENANT, OTHER]) {
            await dropExtraDatabases(tenant);
            await dropDeclaredTenant(adminConfig(), tenant);
        }
        await withDatabase("postgres", (admin) => admin.query(`DROP DATABASE IF EXISTS ${id(LOOKALIKE)}`));
        rmSync(dir, { recursive: true, force: true });
    });

    it("lists what a killed restore and a killed backup left, removes it with --fix, and keeps the before-restore copy", async () => {
        const complete = await backupTenant(targets[0], { signingKey: testSigningKey });
        await killedOnceToolFinished(["restore", TENANT, "--yes", "--jobs", "2", "--temp-dir", tempDir]);
        await killedOnceToolFinished(["run", TENANT]);
        await createDatabase(COPY, tenantNames(TENANT).ownerRole, false);
        await createDatabase(DRILL);
        await createDatabase(LOOKALIKE, tenantNames(OTHER).ownerRole);

        // What the killed runs left, exactly.
        const [scratch] = await databasesLike("erp_bak_doc_restore_");
        assert.match(scratch, /^erp_bak_doc_restore_\d{14}$/);
        const folders = readdirSync(tempDir);
        assert.equal(folders.length, 1);
        const restorePid = Number(/^tenantdb-restore-bak_doc-(\d+)-\w{6}$/.exec(folders[0])![1]);
        assert.deepEqual(readdirSync(path.join(tempDir, folders[0])), ["dump"]);
        const storeFiles = readdirSync(path.join(dir, "store/backups", TENANT)).sort();
        const partial = storeFiles.find((name) => name.endsWith(".partial"))!;
        const backupPid = Number(new RegExp(`^\\d{8}T\\d{6}\\.\\d{3}Z\\.dump\\.(\\d+)@${os.hostname()}\\.partial$`).exec(partial)![1]);
        assert.deepEqual(storeFiles, [path.basename(complete.key), `${path.basename(complete.key)}.json`, partial].sort());
        const blocked = { erp_bak_doc_app: false, erp_bak_doc_migrator: false, erp_bak_doc_readonly: false };
        assert.deepEqual(await loginsOf(TENANT), blocked);

        const comments = await withDatabase("postgres", async (admin) => {
            const { rows } = await admin.query<{ rolname: string; comment: string }>(
                "SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE starts_with(rolname, 'erp_bak_doc_')",
            );
            return new Map(rows.map((row) => [row.rolname, row.comment]));
        });
        const notRunning = (tenant: string) => `; no restore or drill of erp_${tenant} is running`;
        const blockedLogin = (role: string): DoctorFinding => ({
            kind: "blocked-login",
            tenantId: TENANT,
            server: "local",
            name: role,
            state: "orphan",
            detail: `NOLOGIN, set by a restore that did not finish (role comment: ${comments.get(role)})${notRunning(TENANT)}`,
        });
        const orphans: DoctorFinding[] = [
            {
                kind: "scratch-database",
                tenantId: TENANT,
                server: "local",
                name: scratch,
                state: "orphan",
                detail: `left by a restore that did not finish${notRunning(TENANT)}`,
            },
            blockedLogin("erp_bak_doc_app"),
            blockedLogin("erp_bak_doc_migrator"),
            blockedLogin("erp_bak_doc_readonly"),
            {
                kind: "temp-folder",
                tenantId: TENANT,
                name: path.join(tempDir, folders[0]),
                state: "orphan",
                detail: `its restore (process ${restorePid}) is gone`,
            },
            {
                kind: "partial-object",
                tenantId: TENANT,
                name: `file://${dir}/store/backups/${TENANT}/${partial}`,
                state: "orphan",
                detail: `its backup (process ${backupPid}) is gone`,
            },
        ];
        const kept: DoctorFinding = {
            kind: "before-restore-copy",
            tenantId: TENANT,
            server: "local",
            name: COPY,
            state: "kept",
            detail: `the live database before a restore, kept until dropped with: npm run backup -- drop-previous ${TENANT} ${COPY}`,
        };
        const drill: DoctorFinding = {
            kind: "scratch-database",
            tenantId: OTHER,
            server: "local",
            name: DRILL,
            state: "orphan",
            detail: `left by a drill that did not finish${notRunning(OTHER)}`,
        };

        // Listed: the table for a person, JSON alone on stdout for a program; exit 1 while orphans remain.
        const listed = await cli(["doctor", "--temp-dir", tempDir]);
        assert.equal(listed.code, 1, listed.stderr);
        const rows = listed.stdout.split("\n").filter((line) => /^│ bak_doc/.test(line));
        assert.deepEqual(
            rows.map((line) =>
                line
                    .split("│")
                    .slice(1, -1)
                    .map((cell) => cell.trim()),
            ),
            [...orphans, kept, drill].map((f) => [f.tenantId, f.server ?? "", f.kind.replace(/-/g, " "), f.name, f.state, f.detail]),
        );
        assert.equal(
            listed.stdout.split("\n").at(-2),
            `7 orphan(s); remove them with: npm run backup -- doctor --fix --temp-dir ${tempDir}`,
        );
        const json = await cli(["doctor", "--temp-dir", tempDir, "--json"]);
        assert.equal(json.code, 1);
        assert.deepEqual(JSON.parse(json.stdout), { fix: false, findings: [...orphans, kept, drill], problems: [], orphansLeft: 7 });

        // Fixed: every orphan removed, the kept copy and the other tenant's lookalike untouched.
        const fixed = await cli(["doctor", "--fix", "--temp-dir", tempDir, "--json"]);
        assert.equal(fixed.code, 0, fixed.stderr);
        const removed = (f: DoctorFinding): DoctorFinding => ({ ...f, state: "removed" });
        assert.deepEqual(JSON.parse(fixed.stdout), {
            fix: true,
            findings: [...orphans.map(removed), kept, removed(drill)],
            problems: [],
            orphansLeft: 0,
        });
        assert.match(fixed.stderr, new RegExp(`bak_doc: dropped ${scratch}\n`));
        assert.deepEqual(await tenantDatabases(TENANT), [tenantNames(TENANT).database, COPY, LOOKALIKE]);
        assert.deepEqual(await tenantDatabases(OTHER), [tenantNames(OTHER).database]);
        assert.deepEqual(await loginsOf(TENANT), { erp_bak_doc_app: true, erp_bak_doc_migrator: true, erp_bak_doc_readonly: true });
        assert.deepEqual(readdirSync(tempDir), []);
        assert.deepEqual(readdirSync(path.join(dir, "store/backups", TENANT)).sort(), [
            path.basename(complete.key),
            `${path.basename(complete.key)}.json`,
        ]);

        const again = await cli(["doctor", "--temp-dir", tempDir]);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(again.stdout.split("\n").filter((line) => /^│ bak_doc/.test(line)).length, 1, "only the kept copy is listed");
        assert.doesNotMatch(again.stdout, /orphan/);
    });

    it("leaves a tenant alone while its restore lock is held, and a temp folder whose process runs", async () => {
        const scratch = "erp_bak_doctwo_restore_20310101020305";
        await createDatabase(scratch);
        const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
        const folder = mkdtempSync(path.join(tempDir, tempFolderPrefix(OTHER, sleeper.pid)));
        const lines: string[] = [];
        const options = { fix: true, tempDir, log: (line: string) => lines.push(line) };
        try {
            await withDatabase("postgres", async (holder) => {
                // What a running restore of bak_doctwo holds for its whole run (restore/server-session.ts).
                await holder.query("SELECT pg_advisory_lock(hashtext($1))", [restoreLockKey(tenantNames(OTHER).database)]);
                // Listing looks at the lock (pg_locks), --fix tries to take it: both find it held.
                const listed = await doctor([targets[1]], { ...options, fix: false });
                const report = await doctor([targets[1]], options);
                assert.deepEqual(listed.findings, report.findings);
                assert.deepEqual(report, {
                    fix: true,
                    findings: [
                        {
                            kind: "scratch-database",
                            tenantId: OTHER,
                            server: "local",
                            name: scratch,
                            state: "in-use",
                            detail: "a restore or drill of erp_bak_doctwo is running (it holds the tenant's restore lock): skipped",
                        },
                        {
                            kind: "temp-folder",
                            tenantId: OTHER,
                            name: folder,
                            state: "in-use",
                            detail: `its restore (process ${sleeper.pid}) is still running`,
                        },
                    ],
                    problems: [],
                    orphansLeft: 0,
                });
                const skipped = "bak_doctwo: a restore or drill of erp_bak_doctwo is running (it holds the tenant's restore lock); skipped";
                assert.deepEqual(lines, [skipped, skipped]);
                assert.deepEqual(await databasesLike(scratch), [scratch]);
                assert.equal(existsSync(folder), true);
            });
        } finally {
            const ended = new Promise((resolve) => sleeper.once("exit", resolve));
            sleeper.kill("SIGKILL");
            await ended;
        }
        // The lock released and the process gone, the same two are orphans and go.
        const report = await doctor([targets[1]], options);
        assert.deepEqual(
            report.findings.map((f) => [f.kind, f.name, f.state]),
            [
                ["scratch-database", scratch, "removed"],
                ["temp-folder", folder, "removed"],
            ],
        );
        assert.deepEqual(await databasesLike(scratch), []);
        assert.equal(existsSync(folder), false);
    });
});

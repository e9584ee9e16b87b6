/**
 * `tenantdb sandbox start | status | stop | reset` as a user runs them: the real bin in a
 * subprocess, real embedded PostgreSQL servers, one folder and one PID record per stack (issue 13).
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { freePort, startLocalServer } from "../../src/local/embedded-server";
import { SandboxRecord } from "../../src/local/sandbox-state";
import { describeChanges } from "../../scripts/sandbox";
import { sandboxUntilReady } from "../support/sandbox-cli";

const BIN = path.resolve(__dirname, "../../bin/tenantdb.cjs");
const env = { ...process.env, NO_COLOR: "1" };

function projectDir(dirs: string[]): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-sandbox-cli-"));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as another OS user
    dirs.push(dir);
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: tenantdb\nruntime: nodejs\n");
    return dir;
}

function stackFile(dir: string, stack: string, port: number, extra = ""): void {
    writeFileSync(
        path.join(dir, `Pulumi.${stack}.yaml`),
        `config:
  tenantdb:servers:
    laptop: { kind: external, host: 127.0.0.1, port: ${port}, superuser: true, sslmode: disable, locale: C.UTF-8, maxConnections: 300 }${extra ? `\n${extra.split("\n")[0]}` : ""}
  tenantdb:tenants:
    - { id: ${stack}_one, server: laptop, connectionLimit: 20 }
    - { id: ${stack}_two, server: laptop, connectionLimit: 20 }${extra ? `\n${extra.split("\n").slice(1).join("\n")}` : ""}
  tenantdb:backup: { buckets: false }
`,
    );
}

/** `tenantdb sandbox <args>` to its end, from `cwd`; stdin is not a terminal. */
function sandbox(args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
    const run = spawnSync(process.execPath, [BIN, "sandbox", ...args], {
        cwd,
        env: { ...env, ...extraEnv },
        encoding: "utf8",
        timeout: 150_000,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `tenantdb sandbox start` in `cwd` until it waits for Ctrl-C. */
const startUntilReady = (cwd: string, args: string[]) => sandboxUntilReady(cwd, ["start", ...args], env);

const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve(child.exitCode)
        : new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

const record = (dir: string, stack: string): SandboxRecord =>
    JSON.parse(readFileSync(path.join(dir, ".tenantdb/sandbox", stack, "sandbox.json"), "utf8")) as SandboxRecord;

async function refused(port: number): Promise<void> {
    const probe = new Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres", connectionTimeoutMillis: 2000 });
    await assert.rejects(probe.connect(), /ECONNREFUSED/);
}

/** The lines of stdout's section that starts with `heading`, up to the next blank line. */
function section(stdout: string, heading: string): string[] {
    const lines = stdout.split("\n");
    const start = lines.findIndex((line) => line.startsWith(heading));
    assert.ok(start >= 0, `no "${heading}" in:\n${stdout}`);
    const end = lines.indexOf("", start);
    return lines.slice(start, end < 0 ? undefined : end);
}

describe("tenantdb sandbox start | status | stop | reset", function () {
    this.timeout(300_000);
    const dirs: string[] = [];
    const children: ChildProcess[] = [];
    after(() => {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
    });

    it("a second start says the stack's sandbox runs, with the port and PID of its record; status and stop", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(dir, "sbx", port);
        const { child } = await startUntilReady(dir, ["--stack", "sbx"]);
        children.push(child);
        const running = record(dir, "sbx");
        assert.deepEqual(
            { ...running, startedAt: "" },
            { stack: "sbx", pid: child.pid, port, state: "running", startedAt: "", tenants: ["sbx_one", "sbx_two"] },
        );

        const second = sandbox(["start", "--stack", "sbx", "--once"], dir);
        assert.deepEqual(second, {
            status: 3,
            stdout: "",
            stderr:
                `sandbox: the sandbox of stack sbx is already running: PostgreSQL on 127.0.0.1:${port}, PID ${child.pid}, since ${running.startedAt}. ` +
                "Stop it with: tenantdb sandbox stop --stack sbx\n",
        });

        assert.deepEqual(sandbox(["status", "--stack", "sbx"], dir), {
            status: 0,
            stdout: `stack sbx: running on 127.0.0.1:${port}, PID ${child.pid}, since ${running.startedAt}\ntenants: sbx_one, sbx_two\n`,
            stderr: "",
        });
        const json = sandbox(["status", "--stack", "sbx", "--json"], dir);
        assert.equal(json.status, 0);
        assert.deepEqual(JSON.parse(json.stdout), {
            stack: "sbx",
            state: "running",
            pid: child.pid,
            port,
            startedAt: running.startedAt,
            tenants: ["sbx_one", "sbx_two"],
            dataDir: ".tenantdb/sandbox/sbx",
        });

        const stop = sandbox(["stop", "--stack", "sbx"], dir);
        assert.deepEqual(stop, {
            status: 0,
            stdout: `stack sbx: stopped (PID ${child.pid}, port ${port})\n`,
            stderr: `[sandbox] stopping the stack sbx sandbox (PID ${child.pid}, port ${port})\n`,
        });
        assert.equal(await exited(child), 143); // 128 + SIGTERM
        assert.equal(existsSync(path.join(dir, ".tenantdb/sandbox/sbx/sandbox.json")), false);
        await refused(port);
        const after = sandbox(["status", "--stack", "sbx", "--json"], dir);
        assert.deepEqual(JSON.parse(after.stdout), {
            stack: "sbx",
            state: "stopped",
            pid: null,
            port: null,
            startedAt: null,
            tenants: [],
            dataDir: ".tenantdb/sandbox/sbx",
        });
        assert.deepEqual(sandbox(["stop", "--stack", "sbx"], dir), { status: 0, stdout: "stack sbx: not running\n", stderr: "" });
    });

    it("a record left by a killed sandbox is stale: detected, removed with the PostgreSQL it left, and start works again", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(dir, "sbx", port);
        const { child } = await startUntilReady(dir, ["--stack", "sbx"]);
        children.push(child);
        child.kill("SIGKILL");
        await exited(child);
        const postmaster = Number(readFileSync(path.join(dir, ".tenantdb/sandbox/sbx/pgdata/postmaster.pid"), "utf8").split("\n")[0]);

        const status = sandbox(["status", "--stack", "sbx"], dir);
        assert.deepEqual(status, {
            status: 0,
            stdout: "stack sbx: stopped (data: .tenantdb/sandbox/sbx)\n",
            stderr:
                `[sandbox] removing the stale record of the stack sbx sandbox: its process (PID ${child.pid}) is gone\n` +
                `[sandbox] stopping the PostgreSQL it left running (PID ${postmaster})\n`,
        });
        assert.equal(existsSync(path.join(dir, ".tenantdb/sandbox/sbx/sandbox.json")), false);
        await refused(port);

        const again = sandbox(["start", "--stack", "sbx", "--once"], dir);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, /^up: 2 tenant\(s\) in [\d.]+ s: 2 up-to-date$/m);
    });

    it("keeps one folder per stack: two stacks run side by side, and reset (only with --yes off a terminal) deletes one", async () => {
        const dir = projectDir(dirs);
        const [portA, portB] = [await freePort(), await freePort()];
        stackFile(dir, "sbx", portA);
        stackFile(dir, "other", portB);
        const a = await startUntilReady(dir, ["--stack", "sbx"]);
        children.push(a.child);
        const b = await startUntilReady(dir, ["--stack", "other"]);
        children.push(b.child);
        assert.equal(record(dir, "sbx").port, portA);
        assert.equal(record(dir, "other").port, portB);

        const noTty = sandbox(["reset", "--stack", "sbx"], dir);
        assert.deepEqual(noTty, {
            status: 2,
            stdout: "",
            stderr: "sandbox: reset deletes .tenantdb/sandbox/sbx/ (the sandbox's data and passwords): pass --yes to confirm without a terminal\n",
        });
        assert.equal(a.child.exitCode, null);

        const reset = sandbox(["reset", "--stack", "sbx", "--yes"], dir);
        assert.deepEqual(
            [reset.status, reset.stdout],
            [0, `stack sbx: reset (.tenantdb/sandbox/sbx/ deleted, after stopping PID ${a.child.pid})\n`],
        );
        assert.equal(await exited(a.child), 143);
        assert.equal(existsSync(path.join(dir, ".tenantdb/sandbox/sbx")), false);
        await refused(portA);

        // The other stack's sandbox still runs, on its own folder.
        assert.equal(record(dir, "other").pid, b.child.pid);
        const status = JSON.parse(sandbox(["status", "--stack", "other", "--json"], dir).stdout) as { state: string };
        assert.equal(status.state, "running");
        assert.equal(sandbox(["stop", "--stack", "other"], dir).status, 0);
        assert.equal(await exited(b.child), 143);
    });

    it("moves a sandbox from before per-stack folders to the stack's folder, keeping its cluster and password", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(dir, "sbx", port);
        const legacy = path.join(dir, ".tenantdb/sandbox");
        mkdirSync(legacy, { recursive: true });
        const old = await startLocalServer({ dataDir: path.join(legacy, "pgdata"), port, persistent: true });
        const admin = new Client({ host: "127.0.0.1", port, user: "postgres", password: old.password, database: "postgres" });
        await admin.connect();
        await admin.query("CREATE DATABASE made_before");
        await admin.end();
        await old.stop();
        writeFileSync(path.join(legacy, "secrets.json"), JSON.stringify({ rolePasswords: {}, erpAdminPasswords: {} }), { mode: 0o600 });

        const run = sandbox(["start", "--stack", "sbx", "--once"], dir);
        assert.equal(run.status, 0, run.stderr);
        assert.ok(
            run.stderr.startsWith(
                "[sandbox] moved the sandbox from .tenantdb/sandbox/ (before one folder per stack) to .tenantdb/sandbox/sbx/\n",
            ),
            run.stderr,
        );
        for (const file of ["pgdata", "pgdata.password", "secrets.json"]) assert.equal(existsSync(path.join(legacy, file)), false, file);
        assert.equal(readFileSync(path.join(legacy, "sbx/pgdata.password"), "utf8"), old.password);
        const again = await startLocalServer({ dataDir: path.join(legacy, "sbx/pgdata"), port, persistent: true });
        try {
            const client = new Client({ host: "127.0.0.1", port, user: "postgres", password: again.password, database: "made_before" });
            await client.connect();
            await client.end();
        } finally {
            await again.stop();
        }
    });

    it("skips tenants on RDS servers with one line, looks up no hostname, and lists the changes it applied", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(
            dir,
            "sbx",
            port,
            "    cloud: { kind: rds, instanceClass: db.t4g.medium }\n    - { id: sbx_rds, server: cloud, connectionLimit: 20 }",
        );
        // Every hostname the process resolves is written down: the mocks' RDS endpoint must not be one.
        const lookups = path.join(dir, "lookups.txt");
        const guard = path.join(dir, "dns-guard.cjs");
        writeFileSync(
            guard,
            `const dns = require("node:dns"); const fs = require("node:fs"); const lookup = dns.lookup;
dns.lookup = function (host, ...rest) { fs.appendFileSync(${JSON.stringify(lookups)}, host + "\\n"); return lookup.call(this, host, ...rest); };`,
        );
        const first = sandbox(["start", "--stack", "sbx", "--once"], dir, { NODE_OPTIONS: `--require ${guard}` });
        assert.equal(first.status, 0, first.stderr);
        assert.deepEqual(
            first.stdout.split("\n").filter((line) => line.includes("sbx_rds") && !line.startsWith("│")), // the cost table prices it
            ["Skipped tenant sbx_rds: it is on server cloud (rds); the sandbox runs only the external server on 127.0.0.1 (laptop)"],
        );
        const resolved = existsSync(lookups) ? readFileSync(lookups, "utf8").split("\n").filter(Boolean) : [];
        assert.deepEqual(
            resolved.filter((host) => host !== "127.0.0.1" && host !== "localhost"),
            [],
        );
        assert.match(first.stdout, /^up: 2 tenant\(s\) in [\d.]+ s: 2 ok$/m);
        assert.deepEqual(section(first.stdout, "Changes applied"), [
            "Changes applied on server laptop",
            "  created roles: erp_sbx_one_app, erp_sbx_one_migrator, erp_sbx_one_owner, erp_sbx_one_readonly, erp_sbx_two_app, erp_sbx_two_migrator, erp_sbx_two_owner, erp_sbx_two_readonly",
            "  created databases: erp_sbx_one, erp_sbx_two",
            "  erp_sbx_one: created 2 extensions (uuid-ossp, pg_trgm), 7 schemas (tenantdb, core, masters, finance, inventory, sales, audit), 15 grants, 18 default privileges; updated 1 grant",
            "  erp_sbx_two: created 2 extensions (uuid-ossp, pg_trgm), 7 schemas (tenantdb, core, masters, finance, inventory, sales, audit), 15 grants, 18 default privileges; updated 1 grant",
            "  postgres: updated 1 grant",
            "  template1: updated 1 grant",
        ]);
        const migrations = "0001_baseline, 0002_reference_data, 0003_first_company, 0004_credentials_withheld";
        assert.deepEqual(section(first.stdout, "Migrations run"), [
            "Migrations run",
            `  sbx_one: ${migrations}`,
            `  sbx_two: ${migrations}`,
        ]);

        const second = sandbox(["start", "--stack", "sbx", "--once"], dir);
        assert.equal(second.status, 0, second.stderr);
        assert.deepEqual(section(second.stdout, "Changes applied"), [
            "Changes applied on server laptop: none, it already matched the stack",
        ]);
        assert.deepEqual(section(second.stdout, "Migrations run"), ["Migrations run: none, every tenant was up to date"]);
    });

    it("start --once exits 1 when a tenant's migration fails, the other tenant migrated", async () => {
        const dir = projectDir(dirs);
        const port = await freePort();
        stackFile(dir, "sbx", port);
        // sbx_two's database already has a table its first migration creates: that migration fails.
        const server = await startLocalServer({ dataDir: path.join(dir, ".tenantdb/sandbox/sbx/pgdata"), port, persistent: true });
        try {
            const admin = new Client({ host: "127.0.0.1", port, user: "postgres", password: server.password, database: "postgres" });
            await admin.connect();
            await admin.query("CREATE DATABASE erp_sbx_two");
            await admin.end();
            const tenant = new Client({ host: "127.0.0.1", port, user: "postgres", password: server.password, database: "erp_sbx_two" });
            await tenant.connect();
            await tenant.query("CREATE SCHEMA masters; CREATE TABLE masters.currencies (code text)");
            await tenant.end();
        } finally {
            await server.stop();
        }
        const run = sandbox(["start", "--stack", "sbx", "--once"], dir);
        assert.equal(run.status, 1, run.stdout + run.stderr);
        assert.match(run.stdout, /^up: 2 tenant\(s\) in [\d.]+ s: 1 ok, 1 failed$/m);
        assert.match(run.stdout, /sbx_two .*failed/);
        assert.deepEqual(section(run.stdout, "Migrations run"), [
            "Migrations run",
            "  sbx_one: 0001_baseline, 0002_reference_data, 0003_first_company, 0004_credentials_withheld",
        ]);
        await refused(port);
    });

    it("groups applied changes: roles and databases by name, each database's contents on one line", () => {
        assert.deepEqual(
            describeChanges([
                { kind: "role", outcome: "created", resourceName: "t-a", object: "role erp_a_app" },
                { kind: "role", outcome: "updated", resourceName: "t-b", object: "role erp_b_app" },
                { kind: "database", outcome: "created", resourceName: "t-db", object: "database erp_a" },
                { kind: "schema", outcome: "created", resourceName: "t-s", object: "schema core in erp_a", database: "erp_a" },
                {
                    kind: "grant",
                    outcome: "updated",
                    resourceName: "t-g",
                    object: "grant on database in erp_a to public",
                    database: "erp_a",
                },
            ]),
            [
                "created role: erp_a_app",
                "created database: erp_a",
                "updated role: erp_b_app",
                "erp_a: created 1 schema (core); updated 1 grant",
            ],
        );
    });
});

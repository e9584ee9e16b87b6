/**
 * Where a stack's sandbox keeps its state, and the record of the process running it.
 *
 * Each stack has its own folder, `.tenantdb/sandbox/<stack>/` (its cluster, the admin password
 * and the tenants' passwords), and while a sandbox runs, `sandbox.json` there: its PID, port and
 * tenants. A second start for the same stack reads it and refuses, naming both; a record whose
 * process is gone (killed, or the machine restarted) is stale and removed, together with the
 * PostgreSQL such a process may have left running.
 */
import {
    chmodSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    renameSync,
    rmdirSync,
    unlinkSync,
    writeFileSync,
} from "node:fs";
import * as path from "node:path";

/** What `sandbox.json` holds: no secret. */
export interface SandboxRecord {
    readonly stack: string;
    readonly pid: number;
    /** The port of its PostgreSQL on 127.0.0.1. */
    readonly port: number;
    /** `starting` until the tenants are applied and migrated, then `running`. */
    readonly state: "starting" | "running";
    readonly startedAt: string;
    /** The tenants it serves (on the local server), once running. */
    readonly tenants: readonly string[];
}

/** A second start for a stack whose sandbox is running. */
export class SandboxRunningError extends Error {
    constructor(readonly record: SandboxRecord) {
        super(
            `the sandbox of stack ${record.stack} is already running: PostgreSQL on 127.0.0.1:${record.port}, PID ${record.pid}, since ${record.startedAt}. ` +
                `Stop it with: tenantdb sandbox stop --stack ${record.stack}`,
        );
        this.name = "SandboxRunningError";
    }
}

/** The folder holding every stack's sandbox. */
export function sandboxRoot(workDir: string): string {
    return path.join(workDir, ".tenantdb", "sandbox");
}

/** The stack's own sandbox folder: `.tenantdb/sandbox/<stack>/`. */
export function sandboxDir(workDir: string, stack: string): string {
    return path.join(sandboxRoot(workDir), stack);
}

function recordFile(stateDir: string): string {
    return path.join(stateDir, "sandbox.json");
}

/**
 * True when a process with this PID runs (ours or another user's). A zombie, exited but not yet
 * reaped by its parent, has stopped: where /proc shows it (state Z), it does not count.
 */
export function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (error) {
        // EPERM: it exists, owned by another user.
        if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
    }
    try {
        // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return true; // no /proc (macOS)
    }
}

/**
 * True when `pid` is alive and, where the OS shows command lines (/proc), runs `expected`: a PID
 * reused by an unrelated process after a reboot does not count.
 */
function runs(pid: number, expected: RegExp): boolean {
    if (!processAlive(pid)) return false;
    try {
        return expected.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    } catch {
        return true; // no /proc (macOS): the PID alone
    }
}

/**
 * A sandbox's command line (NUL-separated in /proc): `tenantdb.cjs|ts sandbox ...` or
 * `scripts/sandbox.ts ...`. Not any process whose line mentions a sandbox: after a reboot the
 * recorded PID may be anyone's, and `stop` signals it.
 */
const SANDBOX_PROCESS = /tenantdb\.(?:cjs|ts)\0sandbox(?:\0|$)|scripts\/sandbox\.ts(?:\0|$)/;

/** Whether a process's command line (as /proc/<pid>/cmdline holds it) is a sandbox's. */
export function isSandboxCommandLine(cmdline: string): boolean {
    return SANDBOX_PROCESS.test(cmdline);
}

/** The stack's record as written, or undefined when there is none (or it is unreadable). */
export function readRecord(stateDir: string): SandboxRecord | undefined {
    try {
        return JSON.parse(readFileSync(recordFile(stateDir), "utf8")) as SandboxRecord;
    } catch {
        return undefined;
    }
}

/** The PID of the PostgreSQL running on `dataDir` (its postmaster.pid), or undefined. */
export function postmasterPid(dataDir: string): number | undefined {
    try {
        const pid = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
        return Number.isInteger(pid) && pid > 0 && runs(pid, /postgres/) ? pid : undefined;
    } catch {
        return undefined;
    }
}

/** Waits until `pid` is gone; false after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
        if (!processAlive(pid)) return true;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return !processAlive(pid);
}

/** Stops a PostgreSQL left behind by a sandbox that was killed: a fast shutdown (SIGINT). */
async function stopOrphanedPostgres(dataDir: string, log: (line: string) => void): Promise<void> {
    const pid = postmasterPid(dataDir);
    if (pid === undefined) return;
    log(`stopping the PostgreSQL it left running (PID ${pid})`);
    process.kill(pid, "SIGINT");
    if (!(await waitForExit(pid, 30_000))) throw new Error(`the PostgreSQL on ${dataDir} (PID ${pid}) did not stop within 30 s`);
}

/**
 * The stack's running sandbox, or undefined. A stale record (its process is gone) is removed, and
 * a PostgreSQL its killed process left on the stack's cluster is stopped, each said on `log`.
 */
export async function runningSandbox(stateDir: string, log: (line: string) => void): Promise<SandboxRecord | undefined> {
    const record = readRecord(stateDir);
    if (record && runs(record.pid, SANDBOX_PROCESS)) return record;
    if (record) {
        log(`removing the stale record of the stack ${record.stack} sandbox: its process (PID ${record.pid}) is gone`);
        rmRecord(stateDir);
    }
    await stopOrphanedPostgres(path.join(stateDir, "pgdata"), log);
    return undefined;
}

function rmRecord(stateDir: string): void {
    try {
        unlinkSync(recordFile(stateDir));
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
}

/**
 * Records this process as the stack's sandbox, or throws SandboxRunningError when another one
 * runs. The file is created exclusively, so of two starts at once only one gets it.
 */
export async function claimSandbox(
    stateDir: string,
    record: Omit<SandboxRecord, "pid" | "state" | "startedAt" | "tenants">,
    log: (line: string) => void,
): Promise<SandboxRecord> {
    mkdirSync(stateDir, { recursive: true });
    const running = await runningSandbox(stateDir, log);
    if (running) throw new SandboxRunningError(running);
    const mine: SandboxRecord = { ...record, pid: process.pid, state: "starting", startedAt: new Date().toISOString(), tenants: [] };
    try {
        writeFileSync(recordFile(stateDir), JSON.stringify(mine, null, 2), { mode: 0o600, flag: "wx" });
    } catch (error) {
        const other = (error as NodeJS.ErrnoException).code === "EEXIST" ? readRecord(stateDir) : undefined;
        if (other) throw new SandboxRunningError(other);
        throw error;
    }
    return mine;
}

/** Rewrites this process's record (e.g. `running`, with its tenants). */
export function updateRecord(stateDir: string, record: SandboxRecord): void {
    writeFileSync(recordFile(stateDir), JSON.stringify(record, null, 2), { mode: 0o600 });
}

/** Removes the record if it is this process's. */
export function releaseSandbox(stateDir: string): void {
    if (readRecord(stateDir)?.pid === process.pid) rmRecord(stateDir);
}

/** The files of a sandbox started before each stack had its own folder. */
const LEGACY_FILES = ["pgdata", "pgdata.password", "secrets.json"];

/**
 * A sandbox from before per-stack folders kept its cluster and secrets in `.tenantdb/sandbox/`
 * itself. They move to the stack's folder (the stack being started was the one using them), so
 * the tenants keep their data and passwords. Refused while that old sandbox still runs, and
 * left alone (with a line saying what to delete) when the stack already has its own folder.
 */
export function adoptLegacySandbox(workDir: string, stack: string, log: (line: string) => void): void {
    const root = sandboxRoot(workDir);
    if (!existsSync(path.join(root, "pgdata", "PG_VERSION"))) return;
    const relative = path.relative(process.cwd(), root) || ".";
    const running = postmasterPid(path.join(root, "pgdata"));
    if (running !== undefined)
        throw new Error(
            `a sandbox started before this version is running (its PostgreSQL has PID ${running}, data in ${relative}/pgdata): ` +
                `stop it (Ctrl-C where it runs), then start again; its data then moves to ${relative}/${stack}/`,
        );
    const target = sandboxDir(workDir, stack);
    if (existsSync(path.join(target, "pgdata"))) {
        log(
            `${relative}/pgdata is an older sandbox's cluster, unused now that stack ${stack} has its own in ${relative}/${stack}/; ` +
                `delete ${LEGACY_FILES.map((f) => `${relative}/${f}`).join(", ")} to reclaim the space`,
        );
        return;
    }
    // Through a temporary folder, so that a stack named like a legacy file (`pgdata`) works too.
    const staging = mkdtempSync(path.join(root, ".adopt-"));
    chmodSync(staging, 0o755); // as root, PostgreSQL runs as another OS user and must get through
    for (const file of LEGACY_FILES) if (existsSync(path.join(root, file))) renameSync(path.join(root, file), path.join(staging, file));
    if (existsSync(target)) {
        for (const file of readdirSync(staging)) renameSync(path.join(staging, file), path.join(target, file));
        rmdirSync(staging);
    } else renameSync(staging, target);
    log(`moved the sandbox from ${relative}/ (before one folder per stack) to ${relative}/${stack}/`);
}

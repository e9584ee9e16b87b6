/**
 * The real pg_dump and pg_restore: where they are, whether they can handle the server,
 * and how to run them. Connection details reach the child only through libpq environment
 * variables (PGHOST, PGPASSWORD, ...): nothing secret is ever on a command line.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { BackupServer } from "./inventory";
import { redact } from "../shared/redact";

const execFileAsync = promisify(execFile);

export interface PgTool {
    readonly path: string;
    /** e.g. "15.18". */
    readonly version: string;
    readonly major: number;
}

export interface PgTools {
    readonly pgDump: PgTool;
    readonly pgRestore: PgTool;
}

/** Finds a binary in PG_BIN_DIR, else on PATH. */
function findBinary(name: string, env: NodeJS.ProcessEnv): string | undefined {
    const dirs = env.PG_BIN_DIR ? [env.PG_BIN_DIR] : (env.PATH ?? "").split(path.delimiter).filter(Boolean);
    for (const dir of dirs) {
        const candidate = path.join(dir, name);
        try {
            accessSync(candidate, constants.X_OK);
            return candidate;
        } catch {
            // not here
        }
    }
    return undefined;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian ...)`. */
export function parseToolVersion(output: string): { version: string; major: number } | undefined {
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output);
    if (!match) return undefined;
    return { version: match[2] === undefined ? match[1] : `${match[1]}.${match[2]}`, major: Number(match[1]) };
}

const installHint = (major: number | string) =>
    `install PostgreSQL client tools of at least version ${major} (e.g. apt-get install postgresql-client-${major}) and/or set PG_BIN_DIR to their bin directory`;

/** Locates pg_dump and pg_restore and reads their versions. Throws a message with the fix. */
export async function locatePgTools(env: NodeJS.ProcessEnv = process.env): Promise<PgTools> {
    const tool = async (name: string): Promise<PgTool> => {
        const found = findBinary(name, env);
        const where = env.PG_BIN_DIR ? `PG_BIN_DIR (${env.PG_BIN_DIR})` : "PATH";
        if (!found) throw new Error(`${name} was not found in ${where}: ${installHint("15")}.`);
        let output: string;
        try {
            output = (await execFileAsync(found, ["--version"], { env })).stdout;
        } catch (error) {
            throw new Error(`${found} --version failed (${(error as Error).message}): ${installHint("15")}.`, { cause: error });
        }
        const parsed = parseToolVersion(output);
        if (!parsed) throw new Error(`Cannot read the version of ${found} from ${JSON.stringify(output.trim())}.`);
        return { path: found, ...parsed };
    };
    return { pgDump: await tool("pg_dump"), pgRestore: await tool("pg_restore") };
}

/**
 * Why these tools cannot work with a server of `serverMajor`, or undefined when they can.
 * pg_dump refuses servers newer than itself; pg_restore must read archives of that dump.
 */
export function toolsProblem(tools: PgTools, serverMajor: number): string | undefined {
    for (const tool of [tools.pgDump, tools.pgRestore]) {
        if (tool.major < serverMajor) {
            return `${path.basename(tool.path)} ${tool.version} (${tool.path}) is older than the PostgreSQL ${serverMajor} server: ${installHint(serverMajor)}.`;
        }
    }
    return undefined;
}

/** libpq environment for a child process: the password travels in PGPASSWORD, never in argv. */
export function libpqEnv(server: BackupServer, database: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base };
    // A caller's own libpq settings must not redirect the child to another server or user.
    for (const key of Object.keys(env)) if (key.startsWith("PG") && key !== "PG_BIN_DIR") delete env[key];
    return {
        ...env,
        PGHOST: server.host,
        PGPORT: String(server.port),
        PGUSER: server.user,
        PGPASSWORD: server.password,
        PGDATABASE: database,
        PGSSLMODE: server.ssl ?? "prefer",
        ...(server.sslRootCert ? { PGSSLROOTCERT: server.sslRootCert } : {}),
        PGAPPNAME: "tenantdb-backup",
        PGCONNECT_TIMEOUT: "15",
    };
}

export interface ChildExit {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    /** Last 8 KB of stderr, with the server password redacted. */
    readonly stderr: string;
}

export interface RunningTool {
    readonly child: ChildProcess;
    readonly exited: Promise<ChildExit>;
}

/** Spawns a PostgreSQL client tool; stderr is kept (tail only) for error messages. */
export function spawnTool(tool: PgTool, args: readonly string[], env: NodeJS.ProcessEnv, stdio: "pipe-in" | "pipe-out"): RunningTool {
    const child = spawn(tool.path, args, {
        env,
        stdio: stdio === "pipe-in" ? ["pipe", "ignore", "pipe"] : ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-8192);
    });
    const exited = new Promise<ChildExit>((resolve) => {
        child.on("error", (error) => {
            stderr += `\n${error.message}`;
        });
        child.on("close", (code, signal) => resolve({ code, signal, stderr: redact(stderr.trim(), [env.PGPASSWORD]) }));
    });
    return { child, exited };
}

/** A one-line summary of a failed child: exit status and the last meaningful stderr lines. */
export function exitSummary(name: string, exit: ChildExit): string {
    const status = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const lines = exit.stderr.split("\n").filter((line) => line.trim().length > 0);
    return `${name} ${status}${lines.length > 0 ? `: ${lines.slice(-4).join(" | ")}` : ""}`;
}

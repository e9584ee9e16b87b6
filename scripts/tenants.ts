/**
 * npm run tenants -- <command>: the control API (src/control/) from a shell, for platform
 * engineers and CI. Every command prints a line for people, or with --json one JSON object
 * (errors too, with their `code`), and exits with a code per failure kind (see EXIT_CODES).
 *
 *   list              the stack's tenants (from the stack file)
 *   show <id>         one tenant: plan, server, state, history, connection limit, extensions
 *   add <id>          record a tenant and its server in Pulumi.<stack>.yaml (no deploy)
 *   status            the stack's tenants, their servers and lifecycle states
 *   status --live     and every active tenant's login roles checked on the server: exits 8 when a
 *                     password or a role setting drifted, 9 when a role could not be checked
 *   provision <id>    add, deploy (targeted), migrate and seed one tenant
 *   suspend <id>      verified final backup, then logins off and connection limit 0
 *   resume <id>       undo a suspension
 *   move <id> --to <server>  a suspended tenant to another server (README, Moving a tenant)
 *   retire <id>       after the retention: delete the database and roles, schedule the key's deletion
 *   deploy            pulumi up of the whole stack, then every tenant's migrations
 *   migrate           every active tenant's migrations, from the deployed stack's outputs
 *   preview           what pulumi up would change
 */
import * as os from "node:os";
import * as path from "node:path";
import { Command, Option } from "commander";
import { loadInventory } from "../src/backup";
import { ConfigError } from "../src/config/errors";
import {
    ControlError,
    TenantDetail,
    TenantdbClient,
    TenantStatus,
    describeRoleCheck,
    finalBackupFromInventory,
    roleDriftExitCode,
} from "../src/control";
import { formatTable } from "../src/migrate/report";
import { loadSeedsFile } from "../src/migrate/targets";
import { wholeNumberOption } from "../src/shared/cli-numbers";
import { resultTable } from "../src/shared/terminal";

const HELP = `
Examples:
  $ tenantdb tenants list                      # the dev stack's tenants
  $ tenantdb tenants --stack prod show acme --json
  $ tenantdb tenants add newco --plan standard --json
  $ tenantdb tenants status --live             # and every active tenant's roles checked
  $ TENANTDB_ADMIN_PASSWORD=... tenantdb tenants provision newco --company "New Co" --admin-email admin@newco.test

list, show, add and status (without --live) read or edit only Pulumi.<stack>.yaml; the others run the
Pulumi engine. With --json each prints one JSON object, errors too ({"error": {"code", "message"}});
a mistyped option is refused by the argument parser (stderr, exit 1).
Exit codes: 0 ok, 1 error, 2 invalid request, 3 busy, 4 conflict, 5 engine, 6 migration,
7 final backup, 8 a role drifted (status --live), 9 a role could not be checked, 130 aborted.

Environment:
  TENANTDB_ENGINE_BIN        folder with the pulumi CLI (and plugins) to use; else pulumi on PATH
  TENANTDB_ADMIN_PASSWORD    provision: the first admin user's initial password
  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE   the Pulumi backend and secrets, as for pulumi itself
  NO_COLOR                   plain tables; also when the output is not a terminal`;

/** Exit codes by error `code`, so a CI step or a script can branch without parsing text. */
export const EXIT_CODES: Record<string, number> = {
    invalid_request: 2,
    busy: 3,
    conflict: 4,
    engine_failed: 5,
    migration_failed: 6,
    final_backup_failed: 7,
    aborted: 130,
};

interface GlobalOptions {
    stack: string;
    workDir: string;
    json: boolean;
    actor: string;
    inventory?: string;
    waitSeconds: number;
}

export const program = new Command("tenants")
    .description("tenant lifecycle: add, status, provision, suspend, resume, move, retire, deploy, preview")
    .option("--stack <name>", "stack name", "dev")
    .option("--json", "print one JSON object instead of text", false)
    .addOption(
        new Option("--actor <who>", "recorded with each transition and in the lease").default(
            `cli:${os.userInfo().username}`,
            "cli:<user name>",
        ),
    )
    .option("--inventory <file>", "backup inventory, for the final backup suspend takes (README, Backups)")
    .option("--work-dir <dir>", "the project folder with Pulumi.yaml and the stack files", ".")
    .addOption(
        new Option("--wait-seconds <n>", "how long to wait for a busy stack")
            .default(600)
            .argParser(wholeNumberOption("--wait-seconds", 0, 86_400)),
    )
    .addHelpText("after", HELP);

function client(): TenantdbClient {
    const options = program.opts<GlobalOptions>();
    const controller = new AbortController();
    process.once("SIGINT", () => controller.abort());
    return new TenantdbClient({
        workDir: path.resolve(options.workDir),
        actor: options.actor,
        pulumiBinDir: process.env.TENANTDB_ENGINE_BIN,
        lease: { waitMs: options.waitSeconds * 1000 },
        finalBackup: options.inventory
            ? finalBackupFromInventory(loadInventory(options.inventory), { log: (line) => !options.json && console.error(line) })
            : undefined,
        onEvent: (event) => {
            if (options.json) return;
            if (event.kind === "engine") process.stderr.write(event.line);
            else if (event.kind === "waiting") console.error(`waiting for stack ${event.stack}${event.holder ? `: ${event.holder}` : ""}`);
        },
    });
}

/** Prints a result: JSON, or the text `describe` makes of it. */
function print<T>(result: T, describe: (result: T) => string): void {
    console.log(program.opts<GlobalOptions>().json ? JSON.stringify(result, null, 2) : describe(result));
}

const stack = () => program.opts<GlobalOptions>().stack;

program
    .command("list")
    .description("the stack's tenants: plan, server, state and since when (from the stack file)")
    .action(() => {
        print(client().status(stack()), (status) => {
            const table = resultTable(["tenant", "plan", "server", "state", "since"]);
            for (const t of status.tenants) table.push([t.id, t.plan, t.server, t.state, t.since ?? ""]);
            return table.toString();
        });
    });

program
    .command("show <id>")
    .description("one tenant: plan, server, state, history, connection limit, extensions (from the stack file)")
    .action((id: string) => print(client().show(stack(), id), describeTenant));

/** One tenant, as lines for people. */
function describeTenant(t: TenantDetail): string {
    const lines = [
        `tenant            ${t.id} (stack ${t.stack})`,
        `plan              ${t.plan}`,
        `server            ${t.server} (${t.serverKind})`,
        `state             ${t.state}${t.since ? ` since ${t.since}` : ""}`,
        `database          ${t.database}`,
        `connection limit  ${t.connectionLimit}`,
        `extensions        ${[...t.extensions].join(", ") || "none"} (beyond uuid-ossp and pg_trgm)`,
        `backup retention  ${t.backupRetentionDays} days`,
        `history           ${t.history.length ? "" : "none (never transitioned)"}`.trimEnd(),
    ];
    for (const h of t.history)
        lines.push(`  ${h.at}  ${h.state} by ${h.by}${h.reason ? `: ${h.reason}` : ""}${h.backup ? ` (final backup ${h.backup})` : ""}`);
    return lines.join("\n");
}

program
    .command("add <id>")
    .description("record a new tenant and its server in Pulumi.<stack>.yaml")
    .option("--plan <plan>", "standard or enterprise")
    .option("--server <name>", "the shared server (default: the least-loaded with room)")
    .option("--connection-limit <n>", "database connection limit", wholeNumberOption("--connection-limit", 1, 5000))
    .action(async (id: string, o: { plan?: string; server?: string; connectionLimit?: number }) => {
        const result = await client().add(stack(), { id, plan: o.plan, server: o.server, connectionLimit: o.connectionLimit });
        print(
            result,
            (r) =>
                `${r.created ? "added" : "already there:"} ${r.tenantId} on server ${r.server}; run pulumi up (or npm start for the dev sandbox)`,
        );
    });

program
    .command("status")
    .description(
        "the stack's tenants, servers and states (from the stack file); --live also checks every active tenant's roles on its server",
    )
    .option(
        "--live",
        "log in as each tenant's login roles with the declared passwords and compare their own settings with the declared ones",
        false,
    )
    .action(async (o: { live: boolean }) => {
        const describeTenants = (tenants: TenantStatus[]) => {
            const table = resultTable(["tenant", "plan", "server", "state", "since"]);
            for (const t of tenants) table.push([t.id, t.plan, t.server, t.state, t.since ?? ""]);
            return table.toString();
        };
        if (!o.live) return print(client().status(stack()), (status) => describeTenants(status.tenants));
        const status = await client().liveStatus(stack());
        print(status, (s) => {
            const table = resultTable(["tenant", "role", "status", "detail"]);
            for (const check of s.roles.roles) table.push([check.tenantId, check.roleName, check.status, describeRoleCheck(check)]);
            const { ok, drift, unreachable } = s.roles.counts;
            return `${describeTenants(s.tenants)}\n${table.toString()}\nroles: ${ok} ok, ${drift} drifted, ${unreachable} unreachable`;
        });
        process.exitCode = roleDriftExitCode(status.roles);
    });

program
    .command("provision <id>")
    .description("add, deploy, migrate and seed one tenant (TENANTDB_ADMIN_PASSWORD: the first admin's password)")
    .requiredOption("--company <name>", "the tenant's first company")
    .requiredOption("--admin-email <email>", "the first admin user's email")
    .option("--plan <plan>", "standard or enterprise")
    .action(async (id: string, o: { company: string; adminEmail: string; plan?: string }) => {
        const adminPassword = process.env.TENANTDB_ADMIN_PASSWORD;
        if (!adminPassword)
            throw new Error("set TENANTDB_ADMIN_PASSWORD to the first admin's initial password (never passed on the command line)");
        const result = await client().provision(
            stack(),
            { id, plan: o.plan },
            { seed: { companyName: o.company, adminEmail: o.adminEmail, adminPassword } },
        );
        print(
            result,
            (r) => `${r.created ? "provisioned" : "already provisioned:"} ${r.tenantId} on ${r.server}\n${formatTable(r.migrations)}`,
        );
    });

for (const [name, description] of [
    ["suspend", "verified final backup (needs --inventory), then logins off and connection limit 0"],
    ["resume", "undo a suspension"],
] as const) {
    program
        .command(`${name} <id>`)
        .description(description)
        .option("--reason <text>", "recorded with the transition")
        .action(async (id: string, o: { reason?: string }) => {
            const result = await client()[name](stack(), id, { reason: o.reason });
            print(result, (r) => `${r.tenantId} is ${r.state}${r.backup ? ` (final backup ${r.backup})` : ""}`);
        });
}

program
    .command("move <id>")
    .description("a suspended tenant to another server: released from the state (its old database stays), created there empty")
    .requiredOption("--to <server>", "the shared server to move it to")
    .action(async (id: string, o: { to: string }) => {
        const result = await client().move(stack(), id, { to: o.to });
        print(
            result,
            (r) =>
                `${r.tenantId} is on ${r.to}, suspended and empty (${r.released} resources released from the state; its database on ${r.from} is untouched).\n` +
                `Next: restore its final backup there (backup inventory: server ${r.to}; npm run backup -- restore ${r.tenantId} --backup <key>), ` +
                `then npm run tenants -- resume ${r.tenantId}. Drop the copy on ${r.from} once the tenant works.`,
        );
    });

program
    .command("retire <id>")
    .description("erase a suspended tenant once its backups have served their retention")
    .option("--override-retention <id>", "erase before the retention has passed (GDPR erasure); repeat the tenant id to confirm")
    .option("--reason <text>", "recorded with the transition")
    .action(async (id: string, o: { overrideRetention?: string; reason?: string }) => {
        const result = await client().retire(stack(), id, { overrideRetention: o.overrideRetention, reason: o.reason });
        print(result, (r) => `${r.tenantId} is ${r.state}: its database and roles are deleted, its KMS key is scheduled for deletion`);
    });

// deploy: pulumi up, then the migrations; migrate: the migrations only. Both take the seeds of new tenants.
for (const name of ["deploy", "migrate"] as const) {
    program
        .command(name)
        .description(
            name === "deploy" ? "pulumi up, then migrate every active tenant" : "migrate every active tenant of the deployed stack",
        )
        .option("--seeds <file>", "first company and admin of tenants added since the last run (see README, Migrations)")
        .action(async (o: { seeds?: string }) => {
            const seed = o.seeds ? loadSeedsFile(o.seeds) : undefined;
            const result =
                name === "deploy"
                    ? await client()
                          .deploy(stack(), { seed })
                          .then((r) => ({ changes: r.summary.resourceChanges, migrations: r.migrations }))
                    : await client().migrate(stack(), { seed });
            print(result, (r) => formatTable(r.migrations));
        });
}

program
    .command("preview")
    .description("what pulumi up would change")
    .action(async () => {
        print(await client().preview(stack()), (r) =>
            Object.entries(r.changes)
                .map(([op, n]) => `${op}: ${n}`)
                .join("\n"),
        );
    });

/** Runs `tenantdb tenants <args>`; a failure prints one message (or JSON) and exits with its code. */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (caught) {
        const error = caught as Error;
        const code = error instanceof ControlError ? error.code : error instanceof ConfigError ? "invalid_request" : "error";
        if (program.opts<GlobalOptions>().json) console.log(JSON.stringify({ error: { code, message: error.message } }, null, 2));
        else console.error(`tenants: ${error.message}`);
        process.exit(EXIT_CODES[code] ?? 1);
    }
}

if (require.main === module) void main(process.argv.slice(2));

/**
 * npm run tenants -- <command>: tenant lifecycle for platform engineers and CI.
 *   add <id>            record a new tenant (and its server) in Pulumi.<stack>.yaml; offline
 *   list                the stack's tenants and where they live; offline
 *   deploy              pulumi up, then migrate every tenant (Automation API; needs the Pulumi CLI)
 *   provision <id>      what the portal calls: config, up, migrate and seed one tenant (CLI)
 *   offboard <id>       remove a tenant without dropping its database or backups (CLI)
 */
import * as path from "node:path";
import { Command } from "commander";
import Table from "cli-table3";
import { addTenantToConfigFile } from "../src/automation/config-file";
import { deployAndMigrate, offboardTenant, provisionTenant } from "../src/automation/stack-ops";
import { loadStackModel } from "../src/config/load";
import { readStackFile } from "../src/config/sources/stack-file";
import { tenantNames } from "../src/naming";
import { fleetFailed } from "../src/migrate/fleet";
import { formatTable } from "../src/migrate/report";
import { loadSeedsFile } from "../src/migrate/targets";

const root = path.resolve(__dirname, "..");
const stackFile = (stack: string) => path.join(root, `Pulumi.${stack}.yaml`);
const ref = (stack: string) => ({ stackName: stack, workDir: root });

const program = new Command("tenants").description("tenant lifecycle: add, list, deploy, provision, offboard").option("--stack <name>", "stack name", "dev");

program.command("add <id>").description("record a new tenant and its server in Pulumi.<stack>.yaml")
    .option("--plan <plan>", "standard or enterprise", "standard")
    .option("--connection-limit <n>", "database connection limit", (v) => Number.parseInt(v, 10))
    .action((id: string, options: { plan: "standard" | "enterprise"; connectionLimit?: number }) => {
        const file = stackFile(program.opts().stack);
        const { server } = addTenantToConfigFile(file, { id, plan: options.plan, connectionLimit: options.connectionLimit });
        console.log(`added ${id} on server ${server} to ${path.relative(process.cwd(), file)}; run pulumi up (or npm start for the dev sandbox)`);
    });

program.command("list").description("the stack's tenants, servers and limits").action(() => {
    const { source } = readStackFile(stackFile(program.opts().stack));
    // Listing needs no passwords: count every declared server as having one.
    const model = loadStackModel({ ...source, serverPasswordNames: Object.keys((source.raw.servers ?? {}) as object) });
    const table = new Table({ head: ["tenant", "plan", "server", "connection limit", "backup days"] });
    for (const t of model.tenants) table.push([t.id, t.plan, t.server, t.connectionLimit, t.backupRetentionDays]);
    console.log(table.toString());
});

program.command("deploy").description("pulumi up, then migrate every tenant")
    .option("--seeds <file>", "first company and admin of tenants added since the last deploy (see README, Migrations)")
    .action(async (options: { seeds?: string }) => {
    const seed = options.seeds ? loadSeedsFile(options.seeds) : undefined;
    const { migrations } = await deployAndMigrate(ref(program.opts().stack), { seed }, (line) => process.stdout.write(line));
    console.log(formatTable(migrations));
    if (fleetFailed(migrations)) process.exitCode = 1;
});

program.command("provision <id>").description("add, deploy, migrate and seed one tenant")
    .requiredOption("--company <name>", "the tenant's first company")
    .requiredOption("--admin-email <email>", "the first admin user's email")
    .option("--plan <plan>", "standard or enterprise", "standard")
    .action(async (id: string, options: { company: string; adminEmail: string; plan: "standard" | "enterprise" }) => {
        const adminPassword = process.env.TENANTDB_ADMIN_PASSWORD;
        if (!adminPassword) throw new Error("set TENANTDB_ADMIN_PASSWORD to the first admin's initial password (never passed on the command line)");
        const report = await provisionTenant(ref(program.opts().stack), { tenantId: id, plan: options.plan, seed: { companyName: options.company, adminEmail: options.adminEmail, adminPassword } },
            (line) => process.stdout.write(line));
        console.log(formatTable(report));
        if (fleetFailed(report)) process.exitCode = 1;
    });

program.command("offboard <id>").description("remove a tenant from the stack; its database and backups are kept").action(async (id: string) => {
    await offboardTenant(ref(program.opts().stack), id, (line) => process.stdout.write(line));
    console.log(`${id} left the stack; its database ${tenantNames(id).database} and its backup bucket were kept. Drop them deliberately when your retention policy allows.`);
});

program.parseAsync().catch((error: Error) => {
    console.error(`tenants: ${error.message}`);
    process.exit(1);
});

/**
 * npm run backup -- <command>
 *
 *   [all | <tenant>...]                back up tenants (default command; `all` = every tenant)
 *   list [<tenant>...]                 backups per tenant with their age; flags a newest backup older than 26 h
 *   restore <tenant> [--backup <ts>]   restore into a new database, verify, switch names (keeps the old one)
 *   drill [<tenant>...] [--sample n]   restore the newest backups into scratch databases, verify, drop; report
 *   drop-previous <tenant> [<db>]      list, or drop, a before-restore copy of a tenant's database
 *
 * The inventory (servers, tenants, buckets, KMS keys) is read from --config, else
 * TENANTDB_BACKUP_CONFIG, else tenantdb.backup.yaml. Every command exits non-zero on any failure.
 */
import { createInterface } from "node:readline/promises";
import { Command, Option } from "commander";
import Table from "cli-table3";
import { backupTenants } from "../src/backup/backup";
import { doctor } from "../src/backup/doctor";
import { drill } from "../src/backup/drill";
import { TenantBackupError } from "../src/backup/errors";
import { BackupInventory, loadInventory, selectTenants } from "../src/backup/inventory";
import { STALE_AFTER_HOURS, listBackups } from "../src/backup/list";
import { dropPreviousDatabase, dropWarning, listPreviousDatabases, movedAsideSentence, restoreTenant } from "../src/backup/restore";
import { tenantNames } from "../src/naming";
import { wholeNumberOption } from "../src/shared/cli-numbers";

const log = (line: string) => console.error(`[${new Date().toISOString()}] ${line}`);

function inventory(command: Command): BackupInventory {
    const file = (command.optsWithGlobals().config as string | undefined) ?? process.env.TENANTDB_BACKUP_CONFIG ?? "tenantdb.backup.yaml";
    return loadInventory(file);
}

/** Bounds of the whole-number options: beyond them a value is a typo, not a plan. */
const MAX_PARALLEL = 64;
const MAX_SAMPLE = 100_000;

/** Exactly one tenant: restore and drop-previous act on one database, never on `all`. */
function oneTenant(config: BackupInventory, id: string) {
    if (id === "all") throw new Error("this command works on one tenant: give its id, not all");
    const [target] = selectTenants(config, [id]);
    return target;
}

/** A table; plain (no colours) when the output is not a terminal, e.g. in CI logs. */
const table = (head: string[]) => new Table({ head, ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }) });

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export const program = new Command("backup")
    .description("Per-tenant backups to each tenant's bucket, verified restores and restore drills.")
    .addOption(new Option("-c, --config <file>", "backup inventory (YAML or JSON)"))
    .showHelpAfterError();

program
    .command("run", { isDefault: true })
    .description("back up tenants: `all` or tenant ids")
    .argument("[tenants...]", "tenant ids, or all", [])
    .option("--concurrency <n>", "tenants dumped at once", wholeNumberOption("--concurrency", 1, MAX_PARALLEL), 4)
    .option("--lock-wait-timeout <duration>", "give up when a table lock is not granted in time", "5min")
    .action(async (ids: string[], opts: { concurrency: number; lockWaitTimeout: string }, command: Command) => {
        const config = inventory(command);
        const targets = selectTenants(config, ids);
        if (ids.length === 0) throw new Error("Name the tenants to back up, or `all`.");
        const outcomes = await backupTenants(targets, {
            concurrency: Number(opts.concurrency),
            lockWaitTimeout: opts.lockWaitTimeout,
            storeOptions: { s3: config.s3 },
            signingKey: config.signingKey,
            log,
        });
        const rows = table(["tenant", "status", "key", "size", "tables", "schema"]);
        for (const outcome of outcomes) {
            const m = outcome.result?.manifest;
            rows.push([
                outcome.tenantId,
                outcome.error ? "FAILED" : "ok",
                outcome.result?.key ?? "",
                m ? mib(m.sizeBytes) : "",
                m ? Object.keys(m.tables).length : "",
                m?.schemaVersion ?? "",
            ]);
        }
        console.log(rows.toString());
        const failed = outcomes.filter((outcome) => outcome.error);
        for (const outcome of failed) console.error(outcome.error!.message);
        if (failed.length > 0) {
            console.error(`${failed.length} of ${outcomes.length} backups failed.`);
            process.exitCode = 1;
        }
    });

program
    .command("list")
    .description(`backups per tenant with their age; a tenant whose newest backup is older than ${STALE_AFTER_HOURS} h is flagged`)
    .argument("[tenants...]", "tenant ids (default: all)", [])
    .option("--all-backups", "show every backup, not only the newest")
    .action(async (ids: string[], opts: { allBackups?: boolean }, command: Command) => {
        const config = inventory(command);
        const listings = await listBackups(selectTenants(config, ids), { storeOptions: { s3: config.s3 }, signingKey: config.signingKey });
        const rows = table(["tenant", "backup", "age (h)", "size", "state"]);
        for (const listing of listings) {
            if (listing.error) {
                rows.push([listing.tenantId, "", "", "", `UNREACHABLE: ${listing.error.problem}`]);
                continue;
            }
            const shown = opts.allBackups ? listing.backups : listing.newest ? [listing.newest] : [];
            if (shown.length === 0) rows.push([listing.tenantId, "", "", "", "MISSING: no complete backup"]);
            for (const backup of shown) {
                const state = !backup.complete
                    ? "incomplete (no manifest)"
                    : backup === listing.newest && listing.stale
                      ? `STALE (> ${STALE_AFTER_HOURS} h)`
                      : "ok";
                rows.push([listing.tenantId, backup.key, backup.ageHours.toFixed(1), mib(backup.sizeBytes), state]);
            }
        }
        console.log(rows.toString());
        const flagged = listings.filter((listing) => listing.stale);
        if (flagged.length > 0) {
            console.error(
                `${flagged.length} tenant(s) without a backup in the last ${STALE_AFTER_HOURS} h: ${flagged.map((l) => l.tenantId).join(", ")}`,
            );
            process.exitCode = 1;
        }
    });

program
    .command("restore")
    .description("restore a backup into a new database, verify it, then switch it in as erp_<id> (the old database is kept)")
    .argument("<tenant>", "tenant id")
    .option("--backup <key-or-timestamp>", "which backup (default: the newest complete one)")
    .option("--tablespace <name>", "build the restored database in this tablespace")
    .option("--allow-privilege-drift", "restore even if owners/grants differ from those recorded at backup time (reported as warnings)")
    .option(
        "--jobs <n>",
        "parallel pg_restore jobs; above 1 the dump is verified in a private temp file first, 1 streams it (default: min(4, CPUs))",
        wholeNumberOption("--jobs", 1, MAX_PARALLEL),
    )
    .option("--temp-dir <dir>", "folder for the temporary copy of the dump (default: the OS temp folder)")
    .action(
        async (
            id: string,
            opts: { backup?: string; tablespace?: string; allowPrivilegeDrift?: boolean; jobs?: number; tempDir?: string },
            command: Command,
        ) => {
            const config = inventory(command);
            const target = oneTenant(config, id);
            const result = await restoreTenant(target, { ...opts, storeOptions: { s3: config.s3 }, signingKey: config.signingKey, log });
            console.log(
                `${result.database} restored from ${result.key} (taken ${result.manifest.startedAt}) and verified in ${result.restoreSeconds.toFixed(1)} s.` +
                    (result.previousDatabase
                        ? `\n${movedAsideSentence(result.movedAside ?? {})}` +
                          `\nThe previous database is kept as ${result.previousDatabase}; drop it with: npm run backup -- drop-previous ${id} ${result.previousDatabase}`
                        : ""),
            );
        },
    );

program
    .command("drill")
    .description(
        "restore the newest backup of each tenant into a scratch database, verify, drop; report missing, stale and corrupt backups",
    )
    .argument("[tenants...]", "tenant ids (default: all)", [])
    .option("--sample <n>", "drill a random sample of n tenants", wholeNumberOption("--sample", 1, MAX_SAMPLE))
    .option("--concurrency <n>", "restores at once", wholeNumberOption("--concurrency", 1, MAX_PARALLEL), 1)
    .action(async (ids: string[], opts: { sample?: number; concurrency: number }, command: Command) => {
        const config = inventory(command);
        const report = await drill(selectTenants(config, ids), {
            sample: opts.sample === undefined ? undefined : Number(opts.sample),
            concurrency: opts.concurrency,
            storeOptions: { s3: config.s3 },
            signingKey: config.signingKey,
            log,
        });
        const rows = table(["tenant", "status", "backup", "age (h)", "restore (s)"]);
        for (const r of report.results) {
            rows.push([
                r.tenantId,
                r.status === "ok" ? "ok" : r.status.toUpperCase(),
                r.key ?? "",
                r.ageHours?.toFixed(1) ?? "",
                r.restoreSeconds?.toFixed(1) ?? "",
            ]);
        }
        console.log(rows.toString());
        for (const r of report.results) if (r.problem) console.error(`${r.tenantId}: ${r.problem}`);
        if (report.failed > 0) {
            console.error(`Drill failed for ${report.failed} of ${report.results.length} tenant(s).`);
            process.exitCode = 1;
        }
    });

program
    .command("drop-previous")
    .description("list the before-restore copies of a tenant's database and what each holds, or drop one (asks first)")
    .argument("<tenant>", "tenant id")
    .argument("[database]", "erp_<id>_before_restore_<ts> to drop")
    .option("--yes", "drop without asking (automation); without a terminal, drop-previous refuses unless given")
    .action(async (id: string, database: string | undefined, opts: { yes?: boolean }, command: Command) => {
        const target = oneTenant(inventory(command), id);
        const live = tenantNames(id).database;
        const copies = await listPreviousDatabases(target);
        if (!database) {
            if (copies.length === 0) console.log(`No before-restore copies of tenant ${id}.`);
            for (const copy of copies) console.log(`${copy.database}: ${dropWarning(copy, live)}`);
            return;
        }
        const copy = copies.find((c) => c.database === database);
        // A name that is not listed is refused by dropPreviousDatabase itself, with the reason.
        if (copy) {
            console.error(dropWarning(copy, live));
            if (!opts.yes && !(await confirmed(database))) {
                console.error(`Kept ${database}.`);
                process.exitCode = 2;
                return;
            }
        }
        await dropPreviousDatabase(target, database);
        console.log(`Dropped ${database}.`);
    });

/** Asks on the terminal for the database's name; without a terminal, refuses (say --yes to automate). */
async function confirmed(database: string): Promise<boolean> {
    if (!process.stdin.isTTY) {
        console.error(`Refusing to drop ${database} without confirmation: there is no terminal to ask on. Pass --yes to drop it.`);
        return false;
    }
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
        return (await prompt.question(`Type ${database} to drop it: `)).trim() === database;
    } finally {
        prompt.close();
    }
}

program
    .command("doctor")
    .description(
        "list what killed restores, drills and backups left (scratch databases, temp folders, partial objects) and the kept before-restore copies; --fix removes the orphans",
    )
    .argument("[tenants...]", "tenant ids (default: all)", [])
    .option("--fix", "remove the orphans; never a before-restore copy, never what a running restore or backup still holds")
    .option("--temp-dir <dir>", "the folder restores copy dumps into, as their --temp-dir (default: the OS temp folder)")
    .option("--json", "the report as JSON on stdout (logs stay on stderr)")
    .action(async (ids: string[], opts: { fix?: boolean; tempDir?: string; json?: boolean }, command: Command) => {
        const config = inventory(command);
        const report = await doctor(selectTenants(config, ids), {
            fix: opts.fix,
            tempDir: opts.tempDir,
            storeOptions: { s3: config.s3 },
            log,
        });
        // Orphans left, or a server or store that could not be inspected, fail the command (like list's stale backups).
        if (report.orphansLeft > 0 || report.problems.length > 0) process.exitCode = 1;
        if (opts.json) {
            console.log(JSON.stringify({ ...report, problems: report.problems.map((problem) => problem.message) }, null, 2));
            return;
        }
        if (report.findings.length === 0) {
            console.log("Nothing left behind by killed restores, drills or backups.");
        } else {
            const rows = table(["tenant", "server", "what", "name", "state", "detail"]);
            for (const f of report.findings) rows.push([f.tenantId, f.server ?? "", f.kind.replace(/-/g, " "), f.name, f.state, f.detail]);
            console.log(rows.toString());
        }
        if (report.fix) {
            const removed = report.findings.filter((f) => f.state === "removed").length;
            console.log(`Removed ${removed} orphan(s)${report.orphansLeft > 0 ? `; ${report.orphansLeft} could not be removed` : ""}.`);
        } else if (report.orphansLeft > 0) {
            const again = ["doctor", ...ids, "--fix", ...(opts.tempDir ? ["--temp-dir", opts.tempDir] : [])].join(" ");
            console.log(`${report.orphansLeft} orphan(s); remove them with: npm run backup -- ${again}`);
        }
        for (const problem of report.problems) console.error(problem.message);
    });

/** Runs `tenantdb backup <args>`; failures set the exit code, never throw. */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        // One top-level catch: the message names the tenant, step and fix; no stack for known errors.
        console.error(error instanceof TenantBackupError || error instanceof Error ? error.message : String(error));
        if (process.env.TENANTDB_DEBUG && error instanceof Error) console.error(error.stack);
        process.exitCode = 1;
    }
}

if (require.main === module) void main(process.argv.slice(2));

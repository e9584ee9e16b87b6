/**
 * npm run backup -- <command>
 *
 *   [all | <tenant>...]                back up tenants (default command; `all` = every tenant)
 *   list [<tenant>...]                 backups per tenant: ok, stale (older than --stale-hours, 26), bad or missing
 *   verify <tenant> [--backup <ts>]    check a backup's signed manifest, size, sha256 and archive header, without restoring it
 *   restore <tenant> [--backup <ts>]   restore into a new database, verify, switch names (keeps the old one); asks first
 *   drill [<tenant>...] [--sample n]   restore the newest backups into scratch databases, verify, drop; report
 *   drop-previous <tenant> [<db>]      list, or drop, a before-restore copy of a tenant's database
 *
 * The inventory (servers, tenants, buckets, KMS keys) is read from --config, else
 * TENANTDB_BACKUP_CONFIG, else tenantdb.backup.yaml. Every command exits non-zero on any failure.
 */
import { createInterface } from "node:readline/promises";
import { Command, Option } from "commander";
import { backupTenants } from "../src/backup/backup";
import { doctor } from "../src/backup/doctor";
import { drill } from "../src/backup/drill";
import { TenantBackupError } from "../src/backup/errors";
import { BackupInventory, loadInventory, selectTenants } from "../src/backup/inventory";
import { STALE_AFTER_HOURS, TenantBackupListing, listBackups } from "../src/backup/list";
import { dropPreviousDatabase, dropWarning, listPreviousDatabases, movedAsideSentence, restoreTenant } from "../src/backup/restore";
import { inspectBackup, resolveBackupKey } from "../src/backup/restore/select-backup";
import { requireSigningKey, storeOf } from "../src/backup/backup";
import { failFor } from "../src/backup/errors";
import { verifyBackup } from "../src/backup/verify-backup";
import { tenantNames } from "../src/naming";
import { wholeNumberOption } from "../src/shared/cli-numbers";
import { resultTable } from "../src/shared/terminal";

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

const table = resultTable;

/** The one JSON document a command prints with --json. */
const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));

/** A tenant's failure in JSON: what kind, which step, and the message (tenant, step and fix). */
const errorJson = (error: TenantBackupError) => ({ kind: error.kind, step: error.step, message: error.message });

/** Most a stale limit can be: a year. Beyond it the value is a typo. */
const MAX_STALE_HOURS = 8760;

const HELP = `
Examples:
  $ tenantdb backup all                              # back up every tenant in the inventory
  $ tenantdb backup list --stale-hours 30 --json     # ok / stale / bad / missing per tenant; exit 1 on any but ok
  $ tenantdb backup verify acme                      # manifest signature, size, sha256 and header of the newest backup
  $ tenantdb backup restore acme --backup 20250101T020000.000Z   # shows what it swaps, asks for acme or erp_acme
  $ tenantdb backup restore acme --yes --json        # automation: no question, one JSON document
  $ tenantdb backup drill --sample 3
  $ tenantdb backup doctor --fix

Environment:
  TENANTDB_BACKUP_CONFIG       backup inventory file when --config is not given (default tenantdb.backup.yaml)
  TENANTDB_BACKUP_SIGNING_KEY  hex HMAC key manifests are signed and checked with (or the inventory's signingKeyEnv)
  <passwordEnv>                each server's admin password, in the variable its passwordEnv names
  AWS_REGION, AWS_PROFILE, ... the AWS default credential chain, for s3:// destinations
  PG_BIN_DIR                   folder with pg_dump and pg_restore, if not on PATH
  NO_COLOR                     plain tables; also when stdout is not a terminal
  TENANTDB_DEBUG               print stack traces of unexpected errors

Exit codes: 0 ok; 1 a failure, or a backup stale, bad or missing; 2 a restore or drop not confirmed.`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export const program = new Command("backup")
    .description("Per-tenant backups to each tenant's bucket, verified restores and restore drills.")
    .addOption(new Option("-c, --config <file>", "backup inventory (YAML or JSON)"))
    .addHelpText("after", HELP)
    .showHelpAfterError();

program
    .command("run", { isDefault: true })
    .description("back up tenants: `all` or tenant ids")
    .argument("[tenants...]", "tenant ids, or all", [])
    .option("--concurrency <n>", "tenants dumped at once", wholeNumberOption("--concurrency", 1, MAX_PARALLEL), 4)
    .option("--lock-wait-timeout <duration>", "give up when a table lock is not granted in time", "5min")
    .option("--json", "the result as one JSON document on stdout (logs stay on stderr)")
    .action(async (ids: string[], opts: { concurrency: number; lockWaitTimeout: string; json?: boolean }, command: Command) => {
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
        const failed = outcomes.filter((outcome) => outcome.error);
        if (failed.length > 0) process.exitCode = 1;
        if (opts.json) {
            printJson({
                ok: failed.length === 0,
                backups: outcomes.map((outcome) => {
                    const m = outcome.result?.manifest;
                    return {
                        tenantId: outcome.tenantId,
                        status: outcome.error ? "failed" : "ok",
                        ...(outcome.result && m
                            ? {
                                  key: outcome.result.key,
                                  uri: outcome.result.uri,
                                  startedAt: m.startedAt,
                                  finishedAt: m.finishedAt,
                                  sizeBytes: m.sizeBytes,
                                  sha256: m.sha256,
                                  tables: Object.keys(m.tables).length,
                                  schemaVersion: m.schemaVersion,
                              }
                            : {}),
                        ...(outcome.error ? { error: errorJson(outcome.error) } : {}),
                    };
                }),
            });
            return;
        }
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
        for (const outcome of failed) console.error(outcome.error!.message);
        if (failed.length > 0) console.error(`${failed.length} of ${outcomes.length} backups failed.`);
    });

program
    .command("list")
    .description(
        `backups per tenant: the newest held to its signed manifest and size (no download); ok, stale (older than --stale-hours, default ${STALE_AFTER_HOURS}), bad or missing`,
    )
    .argument("[tenants...]", "tenant ids (default: all)", [])
    .option("--all-backups", "show and check every backup, not only the newest")
    .option(
        "--stale-hours <n>",
        `a newest backup older than this is stale (default ${STALE_AFTER_HOURS})`,
        wholeNumberOption("--stale-hours", 1, MAX_STALE_HOURS),
        STALE_AFTER_HOURS,
    )
    .option("--json", "the result as one JSON document on stdout")
    .action(async (ids: string[], opts: { allBackups?: boolean; staleHours: number; json?: boolean }, command: Command) => {
        const config = inventory(command);
        const listings = await listBackups(selectTenants(config, ids), {
            storeOptions: { s3: config.s3 },
            signingKey: config.signingKey,
            staleAfterHours: opts.staleHours,
            check: opts.allBackups ? "all" : "newest",
        });
        const flagged = listings.filter((listing) => listing.status !== "ok");
        if (flagged.length > 0) process.exitCode = 1;
        if (opts.json) {
            printJson({
                ok: flagged.length === 0,
                staleAfterHours: opts.staleHours,
                tenants: listings.map((l) => listingJson(l, opts.allBackups)),
            });
            return;
        }
        const rows = table(["tenant", "backup", "age (h)", "size", "status", "reason"]);
        for (const listing of listings) {
            const shown = opts.allBackups ? [...listing.backups].reverse() : listing.newest ? [listing.newest] : [];
            if (shown.length === 0) rows.push([listing.tenantId, "", "", "", listing.status, listing.reason ?? ""]);
            for (const backup of shown) {
                const newest = backup === listing.newest;
                const [status, reason] = newest
                    ? [listing.status, listing.reason ?? ""]
                    : !backup.complete
                      ? ["incomplete", "no manifest: the backup did not finish"]
                      : [backup.check?.status ?? "", backup.check?.reason ?? ""];
                rows.push([listing.tenantId, backup.key, backup.ageHours.toFixed(1), mib(backup.sizeBytes), status, reason]);
            }
        }
        console.log(rows.toString());
        if (flagged.length > 0) {
            console.error(
                `${flagged.length} tenant(s) without a good backup in the last ${opts.staleHours} h: ` +
                    flagged.map((l) => `${l.tenantId} (${l.status})`).join(", "),
            );
        }
    });

/** A listing in JSON: the tenant's status and reason, its newest backup, and with --all-backups every backup. */
function listingJson(listing: TenantBackupListing, all?: boolean) {
    const backupJson = (b: TenantBackupListing["backups"][number]) => ({
        key: b.key,
        startedAt: b.startedAt.toISOString(),
        ageHours: Number(b.ageHours.toFixed(2)),
        sizeBytes: b.sizeBytes,
        complete: b.complete,
        ...(b.check ? { check: b.check } : {}),
    });
    return {
        tenantId: listing.tenantId,
        location: listing.location,
        status: listing.status,
        ...(listing.reason ? { reason: listing.reason } : {}),
        newest: listing.newest ? backupJson(listing.newest) : null,
        ...(all ? { backups: listing.backups.map(backupJson) } : {}),
    };
}

program
    .command("verify")
    .description("check a backup without restoring it: its signed manifest, the object's size, the dump's sha256 and its archive header")
    .argument("<tenant>", "tenant id")
    .option("--backup <key-or-timestamp>", "which backup (default: the newest complete one)")
    .option("--json", "the result as one JSON document on stdout")
    .action(async (id: string, opts: { backup?: string; json?: boolean }, command: Command) => {
        const config = inventory(command);
        const target = oneTenant(config, id);
        try {
            const verified = await verifyBackup(target, {
                backup: opts.backup,
                storeOptions: { s3: config.s3 },
                signingKey: config.signingKey,
                log,
            });
            if (opts.json) {
                printJson({ ok: true, ...verified });
                return;
            }
            console.log(
                `${verified.key} is good: manifest signed (key ${verified.signatureKeyId}), ${verified.sizeBytes} bytes with sha256 ${verified.sha256}, ` +
                    `a pg_dump ${verified.header.archiveVersion} archive of ${verified.header.database} (taken ${verified.startedAt}, schema ${verified.schemaVersion}).`,
            );
        } catch (error) {
            if (!(error instanceof TenantBackupError) || error.kind === "config") throw error;
            process.exitCode = 1;
            if (opts.json) printJson({ ok: false, tenantId: id, error: errorJson(error) });
            else console.error(error.message);
        }
    });

program
    .command("restore")
    .description(
        "restore a backup into a new database, verify it, then switch it in as erp_<id> (the old database is kept); shows the swap and asks first",
    )
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
    .option("--yes", "restore without asking (automation); without a terminal, restore refuses unless given")
    .option("--json", "the result as one JSON document on stdout")
    .action(
        async (
            id: string,
            opts: {
                backup?: string;
                tablespace?: string;
                allowPrivilegeDrift?: boolean;
                jobs?: number;
                tempDir?: string;
                yes?: boolean;
                json?: boolean;
            },
            command: Command,
        ) => {
            const config = inventory(command);
            const target = oneTenant(config, id);
            const { yes, json, ...restoreOptions } = opts;
            const tools = { storeOptions: { s3: config.s3 }, signingKey: config.signingKey };
            // The backup is chosen and checked once, here: what is shown and confirmed is what is restored.
            const fail = failFor(id, target.server.name);
            const store = storeOf(target, tools);
            const key = await resolveBackupKey(store, id, opts.backup, fail);
            const manifest = await inspectBackup(store, key, id, fail, requireSigningKey(tools, fail));
            const live = tenantNames(id).database;
            console.error(
                [
                    `Restore of tenant ${id} (server ${target.server.name}):`,
                    `  replaces:   the live database ${live}`,
                    `  with:       ${key}, taken ${manifest.startedAt}, schema ${manifest.schemaVersion}, ${mib(manifest.sizeBytes)}`,
                    `  live copy:  renamed ${live}_before_restore_<timestamp>, closed to connections and kept until drop-previous; writes made after the backup stay only there`,
                    `  meanwhile:  the tenant's logins are blocked until the restore ends; the live data is untouched unless the restored copy verifies`,
                ].join("\n"),
            );
            if (!yes && !(await confirmedRestore(id, live))) {
                console.error(`Nothing was changed.`);
                process.exitCode = 2;
                return;
            }
            let result;
            try {
                result = await restoreTenant(target, { ...restoreOptions, backup: key, ...tools, log });
            } catch (error) {
                if (!json || !(error instanceof TenantBackupError)) throw error;
                process.exitCode = 1;
                printJson({ ok: false, tenantId: id, key, error: errorJson(error) });
                return;
            }
            if (json) {
                printJson({
                    ok: true,
                    tenantId: id,
                    database: result.database,
                    key: result.key,
                    startedAt: result.manifest.startedAt,
                    schemaVersion: result.manifest.schemaVersion,
                    restoreSeconds: Number(result.restoreSeconds.toFixed(2)),
                    previousDatabase: result.previousDatabase ?? null,
                    movedAside: result.movedAside ?? {},
                    warnings: result.warnings,
                });
                return;
            }
            console.log(
                `${result.database} restored from ${result.key} (taken ${result.manifest.startedAt}) and verified in ${result.restoreSeconds.toFixed(1)} s.` +
                    (result.previousDatabase
                        ? `\n${movedAsideSentence(result.movedAside ?? {})}` +
                          `\nThe previous database is kept as ${result.previousDatabase}; drop it with: npm run backup -- drop-previous ${id} ${result.previousDatabase}`
                        : ""),
            );
        },
    );

/** Asks on the terminal for the tenant id or the database name; without a terminal, refuses (say --yes to automate). */
async function confirmedRestore(tenantId: string, database: string): Promise<boolean> {
    if (!process.stdin.isTTY) {
        console.error(
            `Refusing to restore tenant ${tenantId} without confirmation: there is no terminal to ask on. Pass --yes to restore it.`,
        );
        return false;
    }
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
        const answer = (await prompt.question(`Type ${tenantId} or ${database} to restore: `)).trim();
        return answer === tenantId || answer === database;
    } finally {
        prompt.close();
    }
}

program
    .command("drill")
    .description(
        "restore the newest backup of each tenant into a scratch database, verify, drop; report missing, stale and corrupt backups",
    )
    .argument("[tenants...]", "tenant ids (default: all)", [])
    .option("--sample <n>", "drill a random sample of n tenants", wholeNumberOption("--sample", 1, MAX_SAMPLE))
    .option("--concurrency <n>", "restores at once", wholeNumberOption("--concurrency", 1, MAX_PARALLEL), 1)
    .option("--json", "the report as one JSON document on stdout")
    .action(async (ids: string[], opts: { sample?: number; concurrency: number; json?: boolean }, command: Command) => {
        const config = inventory(command);
        const report = await drill(selectTenants(config, ids), {
            sample: opts.sample === undefined ? undefined : Number(opts.sample),
            concurrency: opts.concurrency,
            storeOptions: { s3: config.s3 },
            signingKey: config.signingKey,
            log,
        });
        if (report.failed > 0) process.exitCode = 1;
        if (opts.json) {
            printJson({
                ok: report.failed === 0,
                failed: report.failed,
                results: report.results.map((r) => ({
                    tenantId: r.tenantId,
                    status: r.status,
                    key: r.key ?? null,
                    ageHours: r.ageHours === undefined ? null : Number(r.ageHours.toFixed(2)),
                    restoreSeconds: r.restoreSeconds === undefined ? null : Number(r.restoreSeconds.toFixed(2)),
                    ...(r.problem ? { problem: r.problem } : {}),
                })),
            });
            return;
        }
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
        if (report.failed > 0) console.error(`Drill failed for ${report.failed} of ${report.results.length} tenant(s).`);
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

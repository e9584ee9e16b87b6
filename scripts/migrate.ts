/**
 * `tenantdb migrate <up|down|status|repair|history|lint|new> [options]`
 *
 * Migrates every selected tenant database; prints a per-tenant table (or one JSON document with
 * --json) on stdout and progress on stderr; exits 1 when a tenant failed or has checksum drift,
 * and, with --skipped-exit-code, a code of its own when tenants were skipped. Passwords come from
 * the targets file's environment variables or the stack outputs and are never printed.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_MIGRATIONS_DIR, loadCatalog } from "../src/migrate/catalog";
import { wholeNumberOption } from "../src/shared/cli-numbers";
import { fleetFailed, FleetOptions, runFleet } from "../src/migrate/fleet";
import { fleetHistory } from "../src/migrate/history";
import { LINT_RULES, lintFiles, LintReport } from "../src/migrate/lint";
import { formatPlannedSql, plannedSql } from "../src/migrate/print-sql";
import { createProgress } from "../src/migrate/progress";
import { formatJson, formatTable } from "../src/migrate/report";
import { scaffoldMigration } from "../src/migrate/scaffold";
import { progress as log, resultTable } from "../src/shared/terminal";
import { loadSeedsFile, loadTargetsFile, parseStackOutputs, targetsFromStackOutputs, TargetsFile } from "../src/migrate/targets";
import type { Mode } from "../src/migrate/tenant";

interface CliOptions {
    targets?: string;
    stackOutputs?: string;
    seeds?: string;
    only?: string[];
    to?: string;
    dryRun?: boolean;
    json?: boolean;
    canary?: string[];
    waveSize?: number;
    maxFailures?: number;
    concurrency?: number;
    perServer?: number;
    lockWait: number;
    skipLocked?: boolean;
    deep?: boolean;
    migrations?: string;
    printSql?: boolean;
    skippedExitCode?: number;
}

const list = (value: string) =>
    value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
/** Bounds of the whole-number options: beyond them a value is a typo, not a plan. */
const MAX_TENANTS = 100_000;
const MAX_CONCURRENCY = 256;
const MAX_LOCK_WAIT_MS = 24 * 3600 * 1000;

function loadInput(options: Pick<CliOptions, "targets" | "stackOutputs" | "seeds">): TargetsFile {
    if (Boolean(options.targets) === Boolean(options.stackOutputs))
        throw new Error("give exactly one of --targets <file> and --stack-outputs <file>");
    if (options.targets) return loadTargetsFile(options.targets);
    let outputs: unknown;
    try {
        // `pulumi stack output --json --show-secrets > outputs.json`
        outputs = JSON.parse(readFileSync(options.stackOutputs!, "utf8"));
    } catch (error) {
        // Never the parser's message, nor the error as a cause: it quotes the file, which holds passwords.
        const code = (error as NodeJS.ErrnoException).code;
        // eslint-disable-next-line preserve-caught-error
        throw new Error(
            `cannot read stack outputs ${options.stackOutputs}: ${code ?? "not valid JSON (export it with pulumi stack output --json --show-secrets)"}`,
        );
    }
    const origin = `stack outputs ${options.stackOutputs}`;
    return {
        targets: targetsFromStackOutputs(parseStackOutputs(outputs, origin), { origin }),
        seed: options.seeds ? loadSeedsFile(options.seeds) : {},
    };
}

async function run(mode: Mode, options: CliOptions): Promise<void> {
    if (options.printSql && !(options.dryRun && (mode === "up" || mode === "down")))
        throw new Error("--print-sql shows what a plan would execute: use it with up --dry-run or down --dry-run");
    const { targets, seed } = loadInput(options);
    if ((options.waveSize !== undefined || options.maxFailures !== undefined) && !options.canary)
        throw new Error("--wave-size and --max-failures need --canary <tenants>");
    const catalog = options.migrations ? loadCatalog(options.migrations) : loadCatalog();
    const progress = createProgress();
    const fleetOptions: FleetOptions = {
        mode,
        to: options.to,
        dryRun: options.dryRun,
        only: options.only,
        canary: options.canary
            ? { tenants: options.canary, waveSize: options.waveSize ?? 10, maxFailures: options.maxFailures ?? 0 }
            : undefined,
        concurrency: options.concurrency,
        perServerConcurrency: options.perServer,
        seed,
        catalog,
        lock: { onBusy: options.skipLocked ? "skip" : "wait", timeoutMs: options.lockWait },
        deep: options.deep,
        onProgress: progress.onProgress,
    };
    let report;
    try {
        report = await runFleet(targets, fleetOptions);
    } finally {
        progress.stop();
    }
    const sql = options.printSql ? plannedSql(report, catalog) : undefined;
    const width = Math.max(40, (process.stdout.columns ?? 160) - 90);
    process.stdout.write(
        options.json
            ? `${formatJson(sql ? { ...report, sql } : report)}\n`
            : `${formatTable(report, width)}\n${sql ? `\n${formatPlannedSql(sql)}` : ""}`,
    );
    if (fleetFailed(report)) process.exitCode = 1;
    else if (report.counts.skipped > 0 && options.skippedExitCode !== undefined) process.exitCode = options.skippedExitCode;
}

function withFleetOptions(command: Command): Command {
    return command
        .option("--targets <file>", "YAML/JSON targets file (servers, tenants, passwordEnv)")
        .option("--stack-outputs <file>", "JSON of `pulumi stack output --json --show-secrets`")
        .option(
            "--seeds <file>",
            "with --stack-outputs: first company and admin of new tenants (YAML map of tenant id to companyName, adminEmail, adminPasswordEnv)",
        )
        .option("--only <tenants>", "comma-separated tenant ids", list)
        .option("--to <migration>", "target version: a migration name (down: the version to end at, 0 for none)")
        .option("--dry-run", "plan only: run every check the real run runs, report what would change, change nothing")
        .option("--print-sql", "with --dry-run (up, down): print the SQL each tenant's pending migrations would execute")
        .option("--json", "print the report as one JSON document")
        .option("--canary <tenants>", "comma-separated canary tenants migrated first", list)
        .option("--wave-size <n>", "tenants per wave after the canaries (default 10)", wholeNumberOption("--wave-size", 1, MAX_TENANTS))
        .option(
            "--max-failures <n>",
            "stop once more tenants than this failed (default 0)",
            wholeNumberOption("--max-failures", 0, MAX_TENANTS),
        )
        .option(
            "--concurrency <n>",
            "tenants migrated at once, all servers (default 16)",
            wholeNumberOption("--concurrency", 1, MAX_CONCURRENCY),
        )
        .option(
            "--per-server <n>",
            "tenants migrated at once per server (default 8, capped by maxConnections)",
            wholeNumberOption("--per-server", 1, MAX_CONCURRENCY),
        )
        .addOption(
            new Option("--lock-wait <ms>", "wait this long for a tenant another runner is migrating")
                .default(30_000)
                .argParser(wholeNumberOption("--lock-wait", 0, MAX_LOCK_WAIT_MS)),
        )
        .option("--skip-locked", "skip (do not wait for) tenants another runner is migrating")
        .option(
            "--skipped-exit-code <n>",
            "exit with this code (2-125) when tenants were skipped and none failed (failed: always 1)",
            wholeNumberOption("--skipped-exit-code", 2, 125),
        )
        .option("--deep", "connect to every tenant, even those whose schema fingerprint shows them up to date")
        .addOption(new Option("--migrations <dir>", "migrations folder (default: the project's migrations/)").hideHelp());
}

const EXAMPLES = `
Examples:
  tenantdb migrate status --targets targets.yaml
  tenantdb migrate up --targets targets.yaml --dry-run --print-sql
  tenantdb migrate up --stack-outputs outputs.json --canary acme --wave-size 20
  tenantdb migrate up --targets targets.yaml --skip-locked --skipped-exit-code 3 --json
  tenantdb migrate down --targets targets.yaml               # reverts the last migration (it needs a down section)
  tenantdb migrate history --targets targets.yaml --only acme
  tenantdb migrate new add_invoice_notes
  tenantdb migrate lint --since origin/main

Exit codes: 0 done; 1 a tenant failed, status found drift, a canary wave stopped the run, lint found
something, or the command was refused; with --skipped-exit-code <n>, n when tenants were skipped
(--skip-locked) and none failed.

Environment:
  <passwordEnv>, <adminPasswordEnv>  the variables a targets or seeds file names: migrator and ERP admin passwords
  PGSSLROOTCERT                      CA bundle for sslmode verify-ca / verify-full
  NO_COLOR                           no colour in tables
  CI                                 one progress line per tenant instead of a bar
`;

export const program = new Command("migrate")
    .description("Migrate every tenant database to the same schema version")
    .addHelpText("after", EXAMPLES)
    .showHelpAfterError();
const modes: Array<[Mode, string]> = [
    ["up", "apply pending migrations (up to --to)"],
    ["down", "revert migrations that have a down section, to --to (default: the last one)"],
    ["status", "per tenant: version, pending migrations, checksum drift; changes nothing"],
    ["repair", "accept edited migration files: realign recorded checksums (after review)"],
];
for (const [mode, description] of modes) {
    withFleetOptions(program.command(mode).description(description)).action((options: CliOptions) => run(mode, options));
}

interface HistoryOptions {
    targets?: string;
    stackOutputs?: string;
    only?: string[];
    json?: boolean;
    concurrency?: number;
}

program
    .command("history")
    .description("per tenant: each applied migration, when it was applied and how long it took; changes nothing")
    .option("--targets <file>", "YAML/JSON targets file (servers, tenants, passwordEnv)")
    .option("--stack-outputs <file>", "JSON of `pulumi stack output --json --show-secrets`")
    .option("--only <tenants>", "comma-separated tenant ids", list)
    .option("--json", "print the history as one JSON document")
    .option("--concurrency <n>", "tenants read at once (default 16)", wholeNumberOption("--concurrency", 1, MAX_CONCURRENCY))
    .action(async (options: HistoryOptions) => {
        const { targets } = loadInput(options);
        const unknown = (options.only ?? []).filter((id) => !targets.some((t) => t.tenantId === id));
        if (unknown.length) throw new Error(`--only names tenants that are not in the targets: ${unknown.join(", ")}`);
        const selected = options.only ? targets.filter((t) => options.only!.includes(t.tenantId)) : targets;
        const history = await fleetHistory(selected, { concurrency: options.concurrency });
        if (options.json) process.stdout.write(`${JSON.stringify({ tenants: history }, null, 2)}\n`);
        else {
            const table = resultTable(["tenant", "migration", "applied at", "ms", "by"]);
            for (const tenant of history) {
                if (tenant.error) table.push([tenant.tenantId, { colSpan: 4, content: `failed: ${tenant.error}` }]);
                else if (tenant.migrations.length === 0) table.push([tenant.tenantId, { colSpan: 4, content: "(nothing applied)" }]);
                for (const m of tenant.migrations) table.push([tenant.tenantId, m.name, m.appliedAt, String(m.durationMs), m.appliedBy]);
            }
            process.stdout.write(`${table.toString()}\n`);
        }
        if (history.some((tenant) => tenant.error)) process.exitCode = 1;
    });

/** Migration files changed (added or modified) since `ref`, and new files git does not track yet. */
function changedSince(ref: string, directory: string): string[] {
    if (ref.startsWith("-")) throw new Error(`--since ${JSON.stringify(ref)} is not a git ref`);
    const git = (args: string[]) => {
        try {
            return execFileSync("git", args, { cwd: directory, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        } catch (error) {
            const stderr = String((error as { stderr?: string }).stderr ?? "")
                .trim()
                .split("\n")[0];
            throw new Error(`--since ${ref}: git ${args[0]} failed in ${directory}: ${stderr || (error as Error).message}`, {
                cause: error,
            });
        }
    };
    const root = git(["rev-parse", "--show-toplevel"]).trim();
    const changed = git(["diff", "--name-only", "--diff-filter=AMR", ref, "--", "."])
        .split("\n")
        .filter(Boolean)
        .map((file) => path.join(root, file));
    const untracked = git(["ls-files", "--others", "--exclude-standard", "--full-name", "."])
        .split("\n")
        .filter(Boolean)
        .map((file) => path.join(root, file));
    return [...new Set([...changed, ...untracked])].filter((file) => /\.(sql|ts)$/.test(file) && path.basename(file) !== "index.ts").sort();
}

function formatLint(report: LintReport): string {
    const lines = report.findings.map((f) => `${path.relative(process.cwd(), f.file) || f.file}:${f.line}: ${f.rule}: ${f.message}`);
    const ignored = report.ignored.length ? `, ${report.ignored.length} accepted with tenantdb:lint-ignore` : "";
    const skipped = report.skipped.length ? `, ${report.skipped.length} TypeScript file(s) not linted (code)` : "";
    lines.push(`${report.files.length} file(s): ${report.findings.length} finding(s)${ignored}${skipped}`);
    return `${lines.join("\n")}\n`;
}

program
    .command("lint")
    .description("flag destructive or locking statements (and transaction control) in migration files' up sections")
    .argument("[files...]", "migration files (default: every file in the migrations folder)")
    .option("--since <ref>", "only the migration files added or changed since this git ref (and untracked ones)")
    .option("--json", "print the findings as one JSON document")
    .addOption(new Option("--migrations <dir>", "migrations folder (default: the project's migrations/)").hideHelp())
    .addHelpText(
        "after",
        `
Rules (accept one on purpose with a comment on the line above the statement:
  -- tenantdb:lint-ignore <rule> <reason>):
${Object.entries(LINT_RULES)
    .map(([rule, what]) => `  ${rule.padEnd(20)} ${what}`)
    .join("\n")}
Exit 1 when anything is flagged.`,
    )
    .action((files: string[], options: { since?: string; json?: boolean; migrations?: string }) => {
        const directory = path.resolve(options.migrations ?? DEFAULT_MIGRATIONS_DIR);
        if (files.length && options.since) throw new Error("give migration files or --since <ref>, not both");
        const selected = files.length
            ? files.map((file) => path.resolve(file))
            : options.since
              ? changedSince(options.since, directory)
              : readdirSync(directory)
                    .filter((entry) => /\.(sql|ts)$/.test(entry) && entry !== "index.ts")
                    .sort()
                    .map((entry) => path.join(directory, entry));
        const report = lintFiles(selected);
        const shown = (file: string) => path.relative(process.cwd(), file) || file;
        process.stdout.write(
            options.json
                ? `${JSON.stringify(
                      {
                          files: report.files.map(shown),
                          findings: report.findings.map((f) => ({ ...f, file: shown(f.file) })),
                          ignored: report.ignored.map((f) => ({ ...f, file: shown(f.file) })),
                          skipped: report.skipped.map(shown),
                      },
                      null,
                      2,
                  )}\n`
                : formatLint(report),
        );
        if (report.findings.length) process.exitCode = 1;
    });

program
    .command("new")
    .description("scaffold migrations/<NNNN>_<name>.sql with the next number and up/down sections; prints its path")
    .argument("<name>", "what the migration does, in lower_snake_case (e.g. add_invoice_notes)")
    .option("--json", "print { file } as one JSON document")
    .addOption(new Option("--migrations <dir>", "migrations folder (default: the project's migrations/)").hideHelp())
    .action((name: string, options: { json?: boolean; migrations?: string }) => {
        const file = scaffoldMigration(path.resolve(options.migrations ?? DEFAULT_MIGRATIONS_DIR), name);
        const shown = path.relative(process.cwd(), file) || file;
        process.stdout.write(options.json ? `${JSON.stringify({ file: shown })}\n` : `${shown}\n`);
        log(`write its up section (and a down section if it can be undone), then: tenantdb migrate lint ${shown}`);
    });

/**
 * Runs `tenantdb migrate <args>`; a failure prints one message on stderr and exits 1; with
 * --json, stdout also gets one JSON document, { "error": message }, so it always parses.
 */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        // The one place errors are printed: a message, never a stack with connection details.
        const message = error instanceof Error ? error.message : String(error);
        if (args.includes("--json")) process.stdout.write(`${JSON.stringify({ error: message }, null, 2)}\n`);
        console.error(`migrate: ${message}`);
        process.exit(1);
    }
}

if (require.main === module) void main(process.argv.slice(2));

/**
 * `npm run migrate -- <up|down|status|repair> --targets targets.yaml [options]`
 *
 * Migrates every selected tenant database; prints a per-tenant table (or JSON with --json)
 * on stdout and progress on stderr; exits 1 when a tenant failed or has checksum drift.
 * Passwords come from the targets file's environment variables or the stack outputs and
 * are never printed.
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { loadCatalog } from "../src/migrate/catalog";
import { wholeNumberOption } from "../src/shared/cli-numbers";
import { fleetFailed, FleetOptions, runFleet } from "../src/migrate/fleet";
import { createProgress } from "../src/migrate/progress";
import { formatJson, formatTable } from "../src/migrate/report";
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

function loadInput(options: CliOptions): TargetsFile {
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
    const { targets, seed } = loadInput(options);
    if ((options.waveSize !== undefined || options.maxFailures !== undefined) && !options.canary)
        throw new Error("--wave-size and --max-failures need --canary <tenants>");
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
        catalog: options.migrations ? loadCatalog(options.migrations) : undefined,
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
    process.stdout.write(
        `${options.json ? formatJson(report) : formatTable(report, Math.max(40, (process.stdout.columns ?? 160) - 90))}\n`,
    );
    if (fleetFailed(report)) process.exitCode = 1;
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
        .option("--dry-run", "plan only: report what would change, change nothing")
        .option("--json", "print the report as JSON")
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
        .option("--deep", "connect to every tenant, even those whose schema fingerprint shows them up to date")
        .addOption(new Option("--migrations <dir>", "migrations folder (default: the project's migrations/)").hideHelp());
}

export const program = new Command("migrate").description("Migrate every tenant database to the same schema version").showHelpAfterError();
const modes: Array<[Mode, string]> = [
    ["up", "apply pending migrations (up to --to)"],
    ["down", "revert migrations that have a down section, to --to (default: the last one)"],
    ["status", "per tenant: version, pending migrations, checksum drift; changes nothing"],
    ["repair", "accept edited migration files: realign recorded checksums (after review)"],
];
for (const [mode, description] of modes) {
    withFleetOptions(program.command(mode).description(description)).action((options: CliOptions) => run(mode, options));
}

/** Runs `tenantdb migrate <args>`; a failure prints one message and exits 1. */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        // The one place errors are printed: a message, never a stack with connection details.
        console.error(`migrate: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
    }
}

if (require.main === module) void main(process.argv.slice(2));

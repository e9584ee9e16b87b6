/**
 * `npm run cost -- <command>`: the cost preview CLI.
 *
 *   preview         price the stack's planned resources, per tenant and in total
 *   diff            compare two configurations (before and after a change); --fail-above exits 3
 *   refresh-prices  rewrite a prices file from the AWS Price List API (needs credentials)
 *
 * One top-level catch: any error is printed as one message and the process exits non-zero.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Command, Option } from "commander";
import { assumptionsFromModel, resolveAssumptions } from "../src/cost/assumptions";
import { diffReports } from "../src/cost/diff";
import { CostError } from "../src/cost/errors";
import { OUTPUT_FORMATS, OutputFormat, renderDiff, renderReport, renderTenantDiff, renderTenantReport } from "../src/cost/format";
import { tenantDiff, tenantReport } from "../src/cost/tenant";
import { THRESHOLD_EXIT_CODE, parseThreshold, thresholdBreach } from "../src/cost/threshold";
import { offlineGraph } from "../src/cost/offline-graph";
import { readGraphFile, writeGraphFile } from "../src/cost/graph-file";
import { defaultPricesPath, loadPriceBook } from "../src/cost/prices";
import { PRICES_CONFIG_KEY, priceGraph } from "../src/cost/stack-cost";
import { loadStackModel, withEveryServerPassword } from "../src/config/load";
import { StackFile, readStackFile, stackFilePath } from "../src/config/sources/stack-file";
import { CostAssumptions, CostReport, PlannedResource } from "../src/cost/types";

type GraphSource = "offline" | "preview";

const formatOption = () => new Option("--format <format>", "output format").choices(OUTPUT_FORMATS as string[]).default("table");
const jsonOption = () => new Option("--json", "one JSON document on stdout (same as --format json)").conflicts("format");
const tenantOption = () => new Option("--tenant <id>", "one tenant's line items instead of the whole stack");

/** The format asked for: --json, else --format. */
function outputFormat(opts: { format: OutputFormat; json?: boolean }): OutputFormat {
    return opts.json ? "json" : opts.format;
}

const PREVIEW_HELP = `
Examples:
  $ tenantdb cost preview                                  # the dev stack (Pulumi.dev.yaml), evaluated offline
  $ tenantdb cost preview --stack prod --format markdown   # for a pull request comment
  $ tenantdb cost preview --stack prod --tenant acme       # one tenant's line items
  $ tenantdb cost preview --stack prod --json | jq .totalMonthlyUsd

An external server (kind: external) is unpriced unless tenantdb:cost.servers.<name>.monthlyUsd
gives its price; no data transfer is billed for its tenants.

Environment:
  PATH                         where --source preview finds the pulumi CLI
  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE   the Pulumi backend and secrets, for --source preview
  TENANTDB_DEBUG               print stack traces of unexpected errors`;

const DIFF_HELP = `
Examples:
  $ tenantdb cost diff --before Pulumi.prod.yaml --after Pulumi.prod.next.yaml
  $ tenantdb cost diff --before Pulumi.prod.yaml --after Pulumi.prod.next.yaml --fail-above 50
  $ tenantdb cost diff --before Pulumi.prod.yaml --after Pulumi.prod.next.yaml --fail-above-percent 10 --json
  $ tenantdb cost diff --before Pulumi.prod.yaml --after Pulumi.prod.next.yaml --tenant acme

Exit codes: 0 the diff is printed (and within any threshold); ${THRESHOLD_EXIT_CODE} the monthly increase is above
--fail-above or --fail-above-percent (the diff is still printed); 1 an error.`;

const COST_HELP = `
Examples:
  $ tenantdb cost preview --stack prod                     # per tenant and in total
  $ tenantdb cost preview --stack prod --tenant acme --json
  $ tenantdb cost diff --before Pulumi.prod.yaml --after Pulumi.prod.next.yaml --fail-above 50
  $ tenantdb cost refresh-prices --region eu-west-1        # needs AWS credentials

Exit codes: 0 success; 1 an error; ${THRESHOLD_EXIT_CODE} cost diff's increase is above --fail-above or --fail-above-percent.

Environment:
  PATH                         where preview --source preview finds the pulumi CLI
  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE   the Pulumi backend and secrets, for --source preview
  AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   credentials for refresh-prices only
  TENANTDB_DEBUG               print stack traces of unexpected errors

Results go to stdout (with --json, one JSON document); notes go to stderr.`;

interface Loaded {
    readonly graph: PlannedResource[];
    readonly assumptions: CostAssumptions;
    readonly stack?: StackFile;
}

async function loadConfiguration(opts: { config?: string; stack?: string; graph?: string; source?: GraphSource }): Promise<Loaded> {
    const configFile = opts.config ?? (opts.stack ? stackFilePath(opts.stack) : undefined);
    const stack = configFile ? readStackFile(configFile) : undefined;
    const assumptions = stack ? assumptionsFromModel(loadStackModel(withEveryServerPassword(stack.source))) : resolveAssumptions();
    let graph: PlannedResource[];
    if (opts.graph) graph = readGraphFile(opts.graph);
    else if (opts.source === "preview") {
        if (!opts.stack) throw new CostError("--source preview needs --stack <name> (the Pulumi stack to preview)");
        // Loaded on demand: the Automation API is heavy, and only this source needs it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when this source is asked for
        const { previewGraph } = require("../src/cost/preview-graph") as typeof import("../src/cost/preview-graph");
        graph = await previewGraph({ stackName: opts.stack, workDir: process.cwd() });
    } else {
        if (!stack)
            throw new CostError(
                "Nothing to price: pass --stack <name> or --config <Pulumi.<stack>.yaml> (or --graph <file.json> for a saved graph).",
            );
        graph = await offlineGraph(stack, (note) => process.stderr.write(`note: ${note}\n`));
    }
    return { graph, assumptions, ...(stack ? { stack } : {}) };
}

function price(loaded: Loaded, pricesFile: string | undefined): CostReport {
    return priceGraph(loaded.graph, loaded.assumptions, loaded.stack, pricesFile);
}

function noteSecrets(stack: StackFile | undefined): void {
    if (stack && stack.secretKeys.length > 0) {
        process.stderr.write(
            `note: ${stack.secretKeys.length} secure config value(s) (${stack.secretKeys.join(", ")}) were replaced by placeholders; they do not affect cost.\n`,
        );
    }
}

export function buildProgram(): Command {
    const program = new Command("cost")
        .description("Cost preview for tenantdb: what the fleet and each tenant cost per month")
        .addHelpText("after", COST_HELP)
        .showHelpAfterError();

    program
        .command("preview")
        .description("price the planned resources of a stack, per tenant and in total")
        .option("--stack <name>", "stack whose Pulumi.<name>.yaml to read (default: dev, unless --config or --graph is given)")
        .option("--config <file>", "stack config file (overrides --stack's file)")
        .addOption(new Option("--source <source>", "where the planned graph comes from").choices(["offline", "preview"]).default("offline"))
        .option("--graph <file>", "price a saved planned graph (JSON) instead of evaluating the program")
        .option("--save-graph <file>", "also write the planned graph to this file (mode 0600; may hold secrets, do not commit)")
        .option("--prices <file>", `prices file (default: ${PRICES_CONFIG_KEY} from the stack config, else prices/aws-<region>.json)`)
        .addOption(tenantOption())
        .addOption(formatOption())
        .addOption(jsonOption())
        .addHelpText("after", PREVIEW_HELP)
        .action(
            async (opts: {
                stack?: string;
                config?: string;
                source: GraphSource;
                graph?: string;
                saveGraph?: string;
                prices?: string;
                tenant?: string;
                format: OutputFormat;
                json?: boolean;
            }) => {
                const stack = opts.stack ?? (opts.config || opts.graph ? undefined : "dev");
                const loaded = await loadConfiguration({ ...opts, stack });
                noteSecrets(loaded.stack);
                if (opts.saveGraph) writeGraphFile(opts.saveGraph, loaded.graph);
                const report = price(loaded, opts.prices);
                const format = outputFormat(opts);
                const text =
                    opts.tenant !== undefined
                        ? renderTenantReport(tenantReport(report, opts.tenant), format)
                        : renderReport(report, format);
                process.stdout.write(text + "\n");
            },
        );

    program
        .command("diff")
        .description("compare the cost of two configurations, per tenant and in total")
        .option("--before <file>", "stack config before the change")
        .option("--after <file>", "stack config after the change")
        .option("--before-graph <file>", "saved planned graph before the change (assumptions from --before, else defaults)")
        .option("--after-graph <file>", "saved planned graph after the change (assumptions from --after, else defaults)")
        .option("--prices <file>", "prices file for both sides")
        .addOption(tenantOption())
        .addOption(
            new Option(
                "--fail-above <usd>",
                `exit ${THRESHOLD_EXIT_CODE} when the monthly total (with --tenant, that tenant's) rises by more than this (USD)`,
            ).argParser((v) => parseThreshold("--fail-above", v)),
        )
        .addOption(
            new Option(
                "--fail-above-percent <pct>",
                `exit ${THRESHOLD_EXIT_CODE} when the monthly total (with --tenant, that tenant's) rises by more than this percentage`,
            ).argParser((v) => parseThreshold("--fail-above-percent", v)),
        )
        .addOption(formatOption())
        .addOption(jsonOption())
        .addHelpText("after", DIFF_HELP)
        .action(
            async (opts: {
                before?: string;
                after?: string;
                beforeGraph?: string;
                afterGraph?: string;
                prices?: string;
                tenant?: string;
                failAbove?: number;
                failAbovePercent?: number;
                format: OutputFormat;
                json?: boolean;
            }) => {
                if (!opts.before && !opts.beforeGraph)
                    throw new CostError("diff needs --before <Pulumi.<stack>.yaml> (or --before-graph <file.json>)");
                if (!opts.after && !opts.afterGraph)
                    throw new CostError("diff needs --after <Pulumi.<stack>.yaml> (or --after-graph <file.json>)");
                const before = await loadConfiguration({ config: opts.before, graph: opts.beforeGraph });
                const after = await loadConfiguration({ config: opts.after, graph: opts.afterGraph });
                noteSecrets(before.stack);
                noteSecrets(after.stack);
                const [beforeReport, afterReport] = [price(before, opts.prices), price(after, opts.prices)];
                const format = outputFormat(opts);
                const threshold = { aboveUsd: opts.failAbove, abovePercent: opts.failAbovePercent };
                let breach: string | undefined;
                if (opts.tenant !== undefined) {
                    const diff = tenantDiff(beforeReport, afterReport, opts.tenant);
                    process.stdout.write(renderTenantDiff(diff, format) + "\n");
                    breach = thresholdBreach(diff.beforeUsd, diff.afterUsd, threshold, `tenant ${opts.tenant}'s monthly cost`);
                } else {
                    const diff = diffReports(beforeReport, afterReport);
                    process.stdout.write(renderDiff(diff, format) + "\n");
                    breach = thresholdBreach(diff.beforeTotalUsd, diff.afterTotalUsd, threshold);
                }
                if (breach) {
                    process.stderr.write(`cost: ${breach}\n`);
                    process.exitCode = THRESHOLD_EXIT_CODE;
                }
            },
        );

    program
        .command("refresh-prices")
        .description("rewrite a prices file from the AWS Price List API (needs AWS credentials)")
        .option("--region <region>", "region to price", "us-east-1")
        .option(
            "--from <file>",
            "prices file to start from (figures the API does not refresh are carried over)",
            defaultPricesPath("us-east-1"),
        )
        .option("--out <file>", "file to write (default: prices/aws-<region>.json)")
        .action(async (opts: { region: string; from: string; out?: string }) => {
            // The AWS Pricing client loads only for refresh.
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const refresh = require("../src/cost/refresh") as typeof import("../src/cost/refresh");
            const { awsPriceListSource, refreshPrices, requireCredentials } = refresh;
            const credentials = requireCredentials();
            const current = loadPriceBook(opts.from);
            const today = new Date().toISOString().slice(0, 10);
            process.stderr.write(`Refreshing ${opts.region} prices from the AWS Price List API (credentials: ${credentials})...\n`);
            const result = await refreshPrices(current, awsPriceListSource(), opts.region, today);
            const out = opts.out ?? defaultPricesPath(opts.region);
            mkdirSync(path.dirname(out), { recursive: true });
            writeFileSync(out, JSON.stringify(result.book, null, 2) + "\n");
            process.stdout.write(
                `Wrote ${out}: ${result.refreshed.length} figures refreshed, ${result.carriedOver.length} carried over from ${opts.from}.\n`,
            );
            if (result.carriedOver.length > 0)
                process.stdout.write(`Carried over (check their source): ${result.carriedOver.join(", ")}\n`);
        });

    return program;
}

export const program = buildProgram();

/** Runs `tenantdb cost <args>`; failures print one message and set the exit code, never throw. */
export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        process.stderr.write(`cost: ${message}\n`);
        if (process.env.TENANTDB_DEBUG && error instanceof Error && !(error instanceof CostError)) process.stderr.write(`${error.stack}\n`);
        process.exitCode = 1;
    }
}

if (require.main === module) void main(process.argv.slice(2));

/**
 * `tenantdb preview`: what merging a change would do to a stack, per tenant: its infrastructure
 * steps (a real `pulumi preview`), the migrations that would run on it, and its monthly cost
 * before and after, with the reasons. For a pull request comment (.github/workflows/preview.yml)
 * or a terminal. Exits 2 when anything is blocked, so CI can gate on it.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Command, Option } from "commander";
import pLimit from "p-limit";
import { stackFilePath } from "../src/config/sources/stack-file";
import { cellsOf } from "../src/control/fleet";
import { DEFAULT_MIGRATIONS_DIR } from "../src/migrate/catalog";
import { previewChange } from "../src/preview/change-preview";
import { stackFileAt } from "../src/preview/git-base";
import { PREVIEW_FORMATS, PreviewFormat, renderPreview } from "../src/preview/render";

/** Exit code when the preview shows something blocked (a protected replace, a refused migration, a refused config). */
export const BLOCKED_EXIT_CODE = 2;

const HELP = `
Examples:
  $ tenantdb preview --stack prod --base origin/main                 # a terminal table
  $ tenantdb preview --stack prod --base origin/main --format markdown > comment.md
  $ tenantdb preview --fleet prod --base origin/main --json          # every cell of fleet prod

The stack files and the migrations folder are read as they are in the working tree (the change);
--base names the commit they are compared with, for the cost before. Infrastructure steps come from
a real pulumi preview against the stack's backend, migrations from each deployed tenant's database
(as migrate status reads them). Nothing is written.

Blocked: a step that replaces or deletes a protected resource (a tenant database, its roles), a
migration the runner would refuse (transaction control, SQL PostgreSQL cannot parse, checksum drift),
or a config the program refuses.

Exit codes: 0 nothing is blocked; ${BLOCKED_EXIT_CODE} something is blocked (the preview is still printed); 1 an error.

Environment:
  TENANTDB_ENGINE_BIN        folder with the pulumi CLI (and plugins) to use; else pulumi on PATH
  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE   the Pulumi backend and secrets, as for pulumi itself`;

interface Options {
    stack: string[];
    fleet?: string;
    base: string;
    format: PreviewFormat;
    json?: boolean;
    workDir: string;
    migrations: string;
}

export const program = new Command("preview")
    .description("what a change to a stack would do, per tenant: infrastructure, migrations and monthly cost")
    .addOption(
        new Option("--stack <name>", "stack to preview (repeat for several)")
            .argParser((value: string, all: string[]) => [...all, value])
            .default([], "dev"),
    )
    .option("--fleet <name>", "preview every cell of this fleet (stacks <name>-cell-NN)")
    .option("--base <ref>", "git ref the change is compared with", "HEAD")
    .addOption(new Option("--format <format>", "output format").choices(PREVIEW_FORMATS as unknown as string[]).default("table"))
    .addOption(new Option("--json", "one JSON document (same as --format json)").conflicts("format"))
    .option("--work-dir <dir>", "the project folder with Pulumi.yaml and the stack files", ".")
    .addOption(new Option("--migrations <dir>", "the migrations folder").default(DEFAULT_MIGRATIONS_DIR, "this package's migrations/"))
    .addHelpText("after", HELP)
    .action(async (options: Options) => {
        const workDir = path.resolve(options.workDir);
        if (options.fleet && options.stack.length) throw new Error("give --stack or --fleet, not both");
        const stacks = options.fleet ? cellsOf(workDir, options.fleet) : options.stack.length ? options.stack : ["dev"];
        if (stacks.length === 0)
            throw new Error(`fleet ${options.fleet} has no cells in ${workDir} (Pulumi.${options.fleet}-cell-01.yaml...)`);
        const limit = pLimit(2);
        const previews = await Promise.all(
            stacks.map((stackName) =>
                limit(() =>
                    previewChange({
                        engine: { workDir, pulumiBinDir: process.env.TENANTDB_ENGINE_BIN },
                        stackName,
                        proposed: { text: readFileSync(stackFilePath(stackName, workDir), "utf8"), onDisk: true },
                        base: { text: stackFileAt(options.base, workDir, stackName), label: options.base },
                        migrationsDir: path.resolve(options.migrations),
                    }),
                ),
            ),
        );
        process.stdout.write(renderPreview(previews, options.json ? "json" : options.format) + "\n");
        if (previews.some((preview) => preview.blocked)) process.exitCode = BLOCKED_EXIT_CODE;
    });

export async function main(args: readonly string[]): Promise<void> {
    try {
        await program.parseAsync(args, { from: "user" });
    } catch (error) {
        process.stderr.write(`preview: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
    }
}

if (require.main === module) void main(process.argv.slice(2));

/**
 * `tenantdb <command>`: the one command line for everything tenantdb does. Each command is a
 * module of its own (scripts/<command>.ts, also runnable alone and behind `npm run <command>`);
 * this file only dispatches, so `tenantdb migrate --help` shows migrate's options and nothing
 * else, and a command's modules load only when it runs.
 */
import { Command } from "commander";
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** What a command module exports: its commander program (for help and completion) and its entry. */
interface CommandModule {
    readonly program: Command;
    main(args: readonly string[]): Promise<void>;
}

// Loaded with require when used (the program is CommonJS), so `tenantdb --version` or one
// command's help does not load every command's dependencies.
/* eslint-disable @typescript-eslint/no-require-imports */
const COMMANDS: Record<string, { readonly summary: string; load(): CommandModule }> = {
    tenants: {
        summary: "add, provision, suspend, resume, move and retire tenants; deploy and preview a stack",
        load: () => require("./tenants"),
    },
    migrate: { summary: "run schema migrations across every tenant database", load: () => require("./migrate") },
    backup: { summary: "per-tenant backups, verified restores, restore drills and clean-up", load: () => require("./backup") },
    cost: { summary: "monthly cost per tenant and in total, and the cost of a change", load: () => require("./cost") },
    preview: {
        summary: "what a change would do, per tenant: infrastructure, migrations and cost (for a pull request)",
        load: () => require("./preview"),
    },
    serve: { summary: "the HTTP provisioning service for a self-service portal, and its tokens", load: () => require("./serve") },
    sandbox: { summary: "a local PostgreSQL with a stack's tenants, migrated and ready to connect to", load: () => require("./sandbox") },
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The hidden command the completion script calls. */
const COMPLETE = "__complete";

const EXAMPLES = `
Examples:
  $ tenantdb sandbox --once                      # a local PostgreSQL with the dev stack's tenants
  $ tenantdb tenants --stack prod status --live  # every tenant, and its roles checked on the server
  $ tenantdb migrate up --stack-outputs outputs.json --dry-run
  $ tenantdb backup list --config tenantdb.backup.yaml
  $ tenantdb cost preview --stack prod --format markdown
  $ tenantdb preview --stack prod --base origin/main --format markdown   # a pull request's comment
  $ tenantdb migrate --help                      # one command's options and examples

Environment:
  TENANTDB_ENGINE_BIN          folder with the pulumi CLI (and plugins) to use; else pulumi on PATH
  TENANTDB_BACKUP_CONFIG       backup inventory file (default tenantdb.backup.yaml)
  TENANTDB_BACKUP_SIGNING_KEY  HMAC key backups are signed and restores authenticated with
  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE   the Pulumi backend and secrets, as for pulumi itself
  TENANTDB_CONTROL_DATABASE_URL  serve: the control database (jobs, tokens, audit); else an embedded one
  PG_BIN_DIR                   folder with pg_dump and pg_restore, if not on PATH
  PGSSLROOTCERT                CA bundle for sslmode verify-ca and verify-full
  NO_COLOR                     plain output; also when the output is not a terminal
  TENANTDB_DEBUG               print stack traces of unexpected errors

Paths are read from the current directory. Results go to stdout (JSON with --json where a command
reports); progress and logs go to stderr.`;

function version(): string {
    return (JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { version: string }).version;
}

function rootProgram(): Command {
    const root = new Command("tenantdb")
        .description("Database-per-tenant PostgreSQL for ERP SaaS on Pulumi.")
        .version(version(), "-v, --version")
        .addHelpText("after", EXAMPLES)
        .showHelpAfterError();
    for (const [name, { summary }] of Object.entries(COMMANDS)) root.command(name).description(summary);
    root.command("completion")
        .description('print a shell completion script: eval "$(tenantdb completion bash)" (bash or zsh)')
        .argument("[shell]", "bash or zsh", "bash")
        .action((shell: string) => {
            if (shell !== "bash" && shell !== "zsh") throw new Error(`completion: shell must be bash or zsh, got ${JSON.stringify(shell)}`);
            process.stdout.write(completionScript(shell));
        });
    return root;
}

function completionScript(shell: "bash" | "zsh"): string {
    const body = [
        "_tenantdb() {",
        "  local IFS=$'\\n'",
        `  COMPREPLY=($(tenantdb ${COMPLETE} "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))`,
        "}",
        "complete -o default -F _tenantdb tenantdb",
        "",
    ];
    // zsh runs bash completion functions through bashcompinit.
    return (shell === "zsh" ? "autoload -U +X bashcompinit && bashcompinit\n" : "") + body.join("\n");
}

/**
 * Completions for the last of `words` (the word being typed) after the ones before it: the
 * commands and options of the command those words name.
 */
export async function completions(words: readonly string[]): Promise<string[]> {
    const typing = words.at(-1) ?? "";
    const before = words.slice(0, -1);
    let candidates: string[];
    if (before.length === 0) {
        candidates = [...Object.keys(COMMANDS), "completion", "--help", "--version"];
    } else {
        const entry = COMMANDS[before[0]];
        if (!entry) return [];
        // The command the words name, and its ancestors: their options apply too (`backup --config`).
        const path = [entry.load().program];
        for (const word of before.slice(1)) {
            const sub = path.at(-1)!.commands.find((c) => c.name() === word);
            if (sub) path.push(sub);
        }
        candidates = [
            ...path
                .at(-1)!
                .commands.filter((c) => c.name() !== "help")
                .map((c) => c.name()),
            ...path.flatMap((command) => command.options.flatMap((option) => (option.long ? [option.long] : []))),
            "--help",
        ];
    }
    return candidates.filter((candidate) => candidate.startsWith(typing));
}

/** Runs `tenantdb <args>`: a command's own entry, or the root's help, version and completion. */
export async function main(args: readonly string[]): Promise<void> {
    const [first, ...rest] = args;
    // What the completion script asks: the words typed so far, the last one partial. Not a
    // commander command, so that a partial option (`--c`) is a word, not an unknown option.
    if (first === COMPLETE) {
        for (const candidate of await completions(rest)) process.stdout.write(`${candidate}\n`);
        return;
    }
    const target = first === "help" && rest[0] && COMMANDS[rest[0]] ? rest[0] : first;
    const entry = target ? COMMANDS[target] : undefined;
    if (entry) {
        const module = entry.load();
        module.program.name(`tenantdb ${target}`);
        return module.main(first === "help" ? ["--help"] : rest);
    }
    try {
        await rootProgram().parseAsync(args, { from: "user" });
    } catch (error) {
        console.error(`tenantdb: ${(error as Error).message}`);
        process.exitCode = 1;
    }
}

if (require.main === module) void main(process.argv.slice(2));

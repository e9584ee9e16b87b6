/**
 * The `tenantdb` command as a user runs it: the real bin (bin/tenantdb.cjs) in a subprocess, from
 * another working directory. Help texts are golden files (test/cli/golden/): a change to a
 * command's options shows up here, and is updated on purpose with UPDATE_GOLDEN=1.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const BIN = path.join(ROOT, "bin/tenantdb.cjs");
const GOLDEN = path.join(__dirname, "golden");

function tenantdb(args: string[], cwd: string) {
    // Not a terminal: commander wraps help at 80 columns, so the golden files do not depend on one.
    const env = { ...process.env, NO_COLOR: "1" };
    const run = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8", timeout: 60_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function assertGolden(name: string, actual: string): void {
    const file = path.join(GOLDEN, name);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
    assert.equal(actual, readFileSync(file, "utf8"), `${name} differs; run with UPDATE_GOLDEN=1 if the change is intended`);
}

describe("the tenantdb command", function () {
    this.timeout(120_000);
    let elsewhere: string;

    before(() => {
        elsewhere = mkdtempSync(path.join(os.tmpdir(), "tenantdb-cli-"));
    });
    after(() => rmSync(elsewhere, { recursive: true, force: true }));

    it("prints its version, the package's", () => {
        const version = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
        assert.deepEqual(tenantdb(["--version"], elsewhere), { status: 0, stdout: `${version}\n`, stderr: "" });
    });

    it("lists its commands, examples and the environment it reads", () => {
        const run = tenantdb(["--help"], elsewhere);
        assert.deepEqual([run.status, run.stderr], [0, ""]);
        assertGolden("tenantdb.txt", run.stdout);
    });

    for (const command of ["tenants", "migrate", "backup", "cost", "sandbox", "preview", "serve"]) {
        it(`shows ${command}'s own options only, the same for help ${command}`, () => {
            const run = tenantdb([command, "--help"], elsewhere);
            assert.deepEqual([run.status, run.stderr], [0, ""]);
            assert.ok(run.stdout.startsWith(`Usage: tenantdb ${command} [options]`), run.stdout);
            assertGolden(`${command}.txt`, run.stdout);
            assert.deepEqual(tenantdb(["help", command], elsewhere), run);
        });
    }

    it("refuses an unknown command with the list, exit 1", () => {
        const run = tenantdb(["restore"], elsewhere);
        assert.equal(run.status, 1);
        assert.equal(run.stdout, "");
        assert.ok(run.stderr.startsWith("error: unknown command 'restore'\n\nUsage: tenantdb [options] [command]\n"), run.stderr);
    });

    it("completes commands, subcommands and options, a command's ancestors' options included", () => {
        const complete = (...words: string[]) =>
            tenantdb(["__complete", ...words], elsewhere)
                .stdout.split("\n")
                .filter(Boolean);
        assert.deepEqual(complete("m"), ["migrate"]);
        assert.deepEqual(complete("migrate", ""), ["up", "down", "status", "repair", "history", "lint", "new", "--help"]);
        assert.deepEqual(complete("backup", "list", "--c"), ["--config"]);
        assert.deepEqual(complete("nosuch", ""), []);
    });

    it("prints a bash completion script that calls it back", () => {
        const run = tenantdb(["completion", "bash"], elsewhere);
        assert.equal(run.status, 0);
        assert.equal(
            run.stdout,
            [
                "_tenantdb() {",
                "  local IFS=$'\\n'",
                '  COMPREPLY=($(tenantdb __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))',
                "}",
                "complete -o default -F _tenantdb tenantdb",
                "",
            ].join("\n"),
        );
        const fish = tenantdb(["completion", "fish"], elsewhere);
        assert.deepEqual([fish.status, fish.stderr], [1, 'tenantdb: completion: shell must be bash or zsh, got "fish"\n']);
    });

    it("reads paths from the working directory: a stack file beside the user, not in the repository", () => {
        const run = tenantdb(["cost", "preview", "--stack", "nowhere"], elsewhere);
        assert.equal(run.status, 1);
        assert.equal(
            run.stderr,
            `cost: tenantdb config has 1 problem:\n  - ${path.join(elsewhere, "Pulumi.nowhere.yaml")}: does not exist. Pass --config <file>, or --stack <name> to read Pulumi.<name>.yaml in the current directory.\n`,
        );
    });
});

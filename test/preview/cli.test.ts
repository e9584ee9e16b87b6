/**
 * What `tenantdb preview` refuses before it runs the engine, and how it reads the base of a change
 * from git (the real git, in a throwaway repository).
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stackFileAt } from "../../src/preview/git-base";

const ROOT = path.resolve(__dirname, "../..");
const STACK_FILE = "config:\n  tenantdb:tenants: []\n";

describe("tenantdb preview: the base of a change, and refusals", function () {
    this.timeout(60_000);
    let repo: string;
    const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.test", ...args], { cwd: repo, encoding: "utf8" });
    const preview = (...args: string[]) => {
        const run = spawnSync(process.execPath, [path.join(ROOT, "bin/tenantdb.cjs"), "preview", "--work-dir", repo, ...args], {
            cwd: repo,
            encoding: "utf8",
        });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    };

    before(() => {
        repo = mkdtempSync(path.join(os.tmpdir(), "tenantdb-preview-git-"));
        git("init", "-q", "-b", "main");
        writeFileSync(path.join(repo, "Pulumi.dev.yaml"), STACK_FILE);
        git("add", "Pulumi.dev.yaml");
        git("commit", "-q", "-m", "first");
        writeFileSync(path.join(repo, "Pulumi.dev.yaml"), `${STACK_FILE}# edited\n`);
    });
    after(() => rmSync(repo, { recursive: true, force: true }));

    it("reads the stack file as the base commit has it, not as the working tree does", () => {
        assert.equal(stackFileAt("HEAD", repo, "dev"), STACK_FILE);
        assert.equal(stackFileAt("main", repo, "dev"), STACK_FILE);
    });

    it("a stack file the base does not have is a new stack: no base", () => {
        assert.equal(stackFileAt("HEAD", repo, "prod"), undefined);
    });

    it("refuses a ref that is not a commit, or that looks like an option", () => {
        assert.throws(() => stackFileAt("origin/nosuch", repo, "dev"), {
            message: `--base origin/nosuch: not a commit in the git repository at ${repo} (in CI, fetch it first: git fetch origin <branch>)`,
        });
        assert.throws(() => stackFileAt("--output=/tmp/x", repo, "dev"), { message: '--base "--output=/tmp/x" is not a git ref' });
    });

    it("refuses --stack with --fleet, and a fleet without cells, before running anything", () => {
        assert.deepEqual(preview("--stack", "dev", "--fleet", "prod"), {
            status: 1,
            stdout: "",
            stderr: "preview: give --stack or --fleet, not both\n",
        });
        assert.deepEqual(preview("--fleet", "prod"), {
            status: 1,
            stdout: "",
            stderr: `preview: fleet prod has no cells in ${repo} (Pulumi.prod-cell-01.yaml...)\n`,
        });
        assert.deepEqual(preview("--stack", "dev", "--base", "nosuch"), {
            status: 1,
            stdout: "",
            stderr: `preview: --base nosuch: not a commit in the git repository at ${repo} (in CI, fetch it first: git fetch origin <branch>)\n`,
        });
    });
});

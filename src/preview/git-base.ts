/** The stack file as a git ref has it: what a pull request's change is compared with. */
import { execFileSync } from "node:child_process";

/** `git show <ref>:./Pulumi.<stack>.yaml` in `workDir`; undefined when the file is not in that ref (a new stack). */
export function stackFileAt(ref: string, workDir: string, stackName: string): string | undefined {
    if (ref.startsWith("-") || /\s/.test(ref)) throw new Error(`--base ${JSON.stringify(ref)} is not a git ref`);
    const git = (args: string[]) => execFileSync("git", args, { cwd: workDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    try {
        git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    } catch (error) {
        throw new Error(
            `--base ${ref}: not a commit in the git repository at ${workDir} (in CI, fetch it first: git fetch origin <branch>)`,
            {
                cause: error,
            },
        );
    }
    try {
        return git(["show", `${ref}:./Pulumi.${stackName}.yaml`]);
    } catch (error) {
        const stderr = String((error as { stderr?: string }).stderr ?? "");
        if (/does not exist|exists on disk, but not in/.test(stderr)) return undefined;
        throw new Error(`--base ${ref}: git show failed in ${workDir}: ${stderr.trim().split("\n")[0]}`, { cause: error });
    }
}

/** The sandbox as a user runs it: `tenantdb sandbox ...` in a subprocess, until it waits for Ctrl-C. */
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";

const BIN = path.resolve(__dirname, "../../bin/tenantdb.cjs");

/**
 * Spawns `tenantdb sandbox <args>` in `cwd` and resolves once it waits for Ctrl-C, with everything
 * it printed so far (and after, as it comes); rejects if it exits first or is not ready in time.
 */
export async function sandboxUntilReady(
    cwd: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; printed: { text: string } }> {
    const child = spawn(process.execPath, [BIN, "sandbox", ...args], { cwd, env });
    const printed = { text: "" };
    child.stdout.on("data", (chunk) => (printed.text += chunk));
    child.stderr.on("data", (chunk) => (printed.text += chunk));
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the sandbox did not get ready:\n${printed.text}`)), 150_000);
        child.stderr.on("data", () => {
            if (printed.text.includes("press Ctrl-C to stop")) {
                clearTimeout(timer);
                resolve();
            }
        });
        child.on("exit", () => {
            clearTimeout(timer);
            reject(new Error(`the sandbox exited early:\n${printed.text}`));
        });
    });
    return { child, printed };
}

/**
 * Waits until what the sandbox printed matches `pattern`. Its result is on stdout and its
 * readiness on stderr: two pipes, so the result may arrive just after the ready line.
 */
export async function printedMatch(printed: { text: string }, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!pattern.test(printed.text)) {
        if (Date.now() > until) throw new Error(`the sandbox printed nothing matching ${pattern}:\n${printed.text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

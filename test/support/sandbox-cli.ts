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

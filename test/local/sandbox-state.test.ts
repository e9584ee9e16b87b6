/** Which recorded PIDs `sandbox stop` may signal: only a sandbox's, never a process that happens to mention one. */
import * as assert from "node:assert/strict";
import { isSandboxCommandLine } from "../../src/local/sandbox-state";

describe("a sandbox record's PID", () => {
    const line = (...args: string[]) => `${args.join("\0")}\0`;

    for (const [cmdline, sandbox] of [
        [line("node", "/srv/tenantdb/bin/tenantdb.cjs", "sandbox", "start", "--stack", "dev"), true],
        [line("node", "--import", "file:///x/tsx/loader.mjs", "scripts/tenantdb.ts", "sandbox"), true],
        [line("node", "--import", "tsx", "/srv/tenantdb/scripts/sandbox.ts", "--once"), true],
        [line("/opt/chrome/chrome", "--type=renderer", "--no-zygote-sandbox"), false],
        [line("node", "/srv/tenantdb/bin/tenantdb.cjs", "tenants", "status"), false],
        [line("node", "/srv/tenantdb/bin/tenantdb.cjs", "sandboxes"), false],
        [line("bash", "-c", "echo tenantdb sandbox"), false],
    ] as const) {
        it(`${sandbox ? "is" : "is not"} a sandbox: ${cmdline.replace(/\0/g, " ").trim()}`, () => {
            assert.equal(isSandboxCommandLine(cmdline), sandbox);
        });
    }
});

import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AbortedError, BusyError } from "../../src/control/errors";
import { LeaseOptions, leasePath, withStackLease } from "../../src/control/lease";

/**
 * How long a killed holder's lease lives on. Long enough that, even on a loaded machine, the
 * next caller finds it still fresh and has to wait for it to go stale, which is what is tested.
 */
const STALE_MS = 8000;

describe("the stack lease", function () {
    this.timeout(60_000);
    let workDir: string;
    beforeEach(() => (workDir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-lease-"))));
    afterEach(() => rmSync(workDir, { recursive: true, force: true }));

    /** A second caller of stack prod, recording who it found holding the lease. */
    const waiter = (options: LeaseOptions) => {
        const waits: (string | undefined)[] = [];
        const run = withStackLease(workDir, "prod", { ...options, onWait: (holder) => waits.push(holder) }, async () => "ran");
        return { waits, run };
    };

    it("runs one holder at a time per stack, in arrival order, and stacks do not wait for each other", async () => {
        const events: string[] = [];
        const hold = (stack: string, name: string, ms: number) =>
            withStackLease(workDir, stack, { owner: `test:${name}`, operation: name }, async () => {
                events.push(`${name} start`);
                await sleep(ms);
                events.push(`${name} end`);
                return name;
            });
        const first = hold("prod", "first", 600);
        await sleep(100);
        const results = await Promise.all([first, hold("prod", "second", 50), hold("staging", "other", 50)]);
        assert.deepEqual(results, ["first", "second", "other"]);
        assert.deepEqual(events, ["first start", "other start", "other end", "first end", "second start", "second end"]);
        assert.equal(existsSync(`${leasePath(workDir, "prod")}.lock`), false);
    });

    it("gives a waiter a BusyError naming the holder once its wait is over", async () => {
        let release!: () => void;
        const holding = withStackLease(
            workDir,
            "prod",
            { owner: "portal:alice", operation: "provision acme" },
            () => new Promise<void>((r) => (release = r)),
        );
        await sleep(100);
        const { waits, run } = waiter({ owner: "ci", operation: "deploy", waitMs: 700 });
        const error = await run.catch((e: unknown) => e);
        assert.ok(error instanceof BusyError);
        assert.equal(error.code, "busy");
        assert.match(
            error.message,
            /^stack prod is busy \(portal:alice: provision acme, pid \d+ on .+, since \d{4}-\d\d-\d\dT[\d:.]+Z\); waited 1 s\. Retry later/,
        );
        assert.equal(waits.length, 1);
        assert.match(waits[0]!, /^portal:alice: provision acme, pid /);
        release();
        await holding;
    });

    it("stops waiting when the caller aborts", async () => {
        let release!: () => void;
        const holding = withStackLease(workDir, "prod", { owner: "a", operation: "x" }, () => new Promise<void>((r) => (release = r)));
        await sleep(100);
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 300);
        await assert.rejects(
            withStackLease(workDir, "prod", { owner: "b", operation: "y", signal: controller.signal }, async () => "ran"),
            AbortedError,
        );
        release();
        await holding;
    });

    it("is taken over once a killed holder's lease goes stale", async () => {
        const child = spawn(
            process.execPath,
            ["--import", "tsx", path.join(__dirname, "support/hold-lease.ts"), workDir, "prod", String(STALE_MS)],
            {
                stdio: ["ignore", "pipe", "inherit"],
            },
        );
        await new Promise<void>((resolve, reject) => {
            child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("held") && resolve());
            child.on("exit", (code) => reject(new Error(`holder exited early with ${code}`)));
        });
        child.kill("SIGKILL");
        const { waits, run } = waiter({ owner: "portal", operation: "provision next", staleMs: STALE_MS });
        const result = await run;
        assert.equal(result, "ran");
        // It waited for the dead holder's lease to go stale rather than taking a live one.
        assert.equal(waits.length, 1);
        assert.match(waits[0]!, /^test:doomed: provision doomed, pid \d+/);
    });
});

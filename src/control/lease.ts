/**
 * One operation at a time per stack: a lease on `<workDir>/.tenantdb/leases/<stack>`, shared by
 * every caller that edits the stack's config or updates it (the portal, CI's deploy, the CLI's
 * config edits), whatever process or host it runs in, as long as they share the project folder.
 *
 * The lease is a lock directory (proper-lockfile: mkdir is atomic, on local disks and NFS) whose
 * mtime the holder refreshes while it works. A holder that crashes or is killed stops refreshing,
 * and after `staleMs` the next caller takes the lease over: nobody has to clean up by hand. Who
 * holds it is written beside it, for the busy error a waiter gets.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as lockfile from "proper-lockfile";
import { AbortedError, BusyError, LeaseLostError } from "./errors";

export interface LeaseOptions {
    /** Who asks, for the holder record and busy errors: `portal:alice`, `ci`, `cli:$USER`. */
    readonly owner: string;
    /** What for: `provision acme`, `deploy`. */
    readonly operation: string;
    /** How long to wait for a busy stack before a BusyError. Default 10 minutes (a CI deploy of a cell). */
    readonly waitMs?: number;
    /** A lease not refreshed for this long belongs to a dead holder. Default 30 s. */
    readonly staleMs?: number;
    readonly signal?: AbortSignal;
    /** Called once when the stack is busy and the caller starts waiting. */
    readonly onWait?: (holder: string | undefined) => void;
}

export interface LeaseHolder {
    readonly owner: string;
    readonly operation: string;
    readonly pid: number;
    readonly host: string;
    readonly since: string;
}

const POLL_MS = 250;

export function leasePath(workDir: string, stack: string): string {
    return path.join(workDir, ".tenantdb", "leases", stack);
}

function describeHolder(file: string): string | undefined {
    try {
        const holder = JSON.parse(readFileSync(`${file}.holder.json`, "utf8")) as LeaseHolder;
        return `${holder.owner}: ${holder.operation}, pid ${holder.pid} on ${holder.host}, since ${holder.since}`;
    } catch {
        return undefined;
    }
}

/**
 * Runs `body` holding the stack's lease. `body` gets a signal that fires if the caller aborts
 * or the lease is lost (the holder stalled past the stale period and another caller took
 * over); long steps pass it on, and the lease-lost case ends in LeaseLostError.
 */
export async function withStackLease<T>(
    workDir: string,
    stack: string,
    options: LeaseOptions,
    body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
    const file = leasePath(workDir, stack);
    mkdirSync(path.dirname(file), { recursive: true });
    const staleMs = options.staleMs ?? 30_000;
    const waitMs = options.waitMs ?? 600_000;
    const started = Date.now();
    const lost = new AbortController();
    let lostBecause: unknown;
    let release: (() => Promise<void>) | undefined;
    let waiting = false;

    while (!release) {
        if (options.signal?.aborted) throw new AbortedError(`waiting for the lease of stack ${stack}`);
        try {
            release = await lockfile.lock(file, {
                realpath: false,
                stale: staleMs,
                update: Math.max(1000, Math.floor(staleMs / 3)),
                retries: 0,
                onCompromised: (error) => {
                    lostBecause = error;
                    lost.abort(error);
                },
            });
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
            const holder = describeHolder(file);
            if (Date.now() - started >= waitMs) throw new BusyError(stack, holder, Date.now() - started);
            if (!waiting) {
                waiting = true;
                options.onWait?.(holder);
            }
            await sleep(POLL_MS, undefined, { signal: options.signal }).catch(() => undefined);
        }
    }

    const holder: LeaseHolder = {
        owner: options.owner,
        operation: options.operation,
        pid: process.pid,
        host: os.hostname(),
        since: new Date().toISOString(),
    };
    writeFileSync(`${file}.holder.json`, JSON.stringify(holder));
    const signal = options.signal ? AbortSignal.any([options.signal, lost.signal]) : lost.signal;
    try {
        const result = await body(signal);
        if (lostBecause) throw new LeaseLostError(stack, lostBecause);
        return result;
    } catch (error) {
        if (lostBecause) throw new LeaseLostError(stack, lostBecause);
        throw error;
    } finally {
        // A lost lease belongs to someone else now: leave their lock and holder record alone.
        if (!lostBecause) {
            rmSync(`${file}.holder.json`, { force: true });
            await release().catch(() => undefined);
        }
    }
}

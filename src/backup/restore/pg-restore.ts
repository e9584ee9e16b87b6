/**
 * Phase 6: pg_restore into the scratch database, from the verified local copy with parallel
 * jobs, or fed from the download while its sha256 is computed. ACLs are restored (the roles
 * they name exist on this server): objects a migration closed to PUBLIC, such as the audit
 * functions, must stay closed. Owners are set afterwards (phase 7).
 */
import { Writable } from "node:stream";
import { describe } from "../errors";
import { ChildExit, exitSummary, libpqEnv, spawnTool } from "../pg-tools";
import { OpenedDump } from "./context";
import { Digest, feed } from "./feed";
import { verifyDigest } from "./verify";

export async function runPgRestore(dump: OpenedDump): Promise<void> {
    const { tools, server, scratch, localCopy, jobs, tenantId, log, created } = dump;
    const args = [
        "--no-owner",
        "--exit-on-error",
        "--no-password",
        `--dbname=${scratch}`,
        ...(localCopy ? [`--jobs=${jobs}`, localCopy] : []),
    ];
    const restore = spawnTool(tools.pgRestore, args, libpqEnv(server, scratch), localCopy ? "pipe-out" : "pipe-in");
    created.pgRestore = restore;
    let streamed: Digest | undefined;
    if (localCopy) restore.child.stdout!.resume();
    else streamed = await streamDownload(dump, restore.child.stdin!, restore.exited);
    const exit = await restore.exited;
    if (streamed) verifyDigest(dump, streamed, exit);
    checkExit(dump, exit);
    log(`${tenantId}: pg_restore finished after ${((performance.now() - dump.startedAt) / 1000).toFixed(1)} s; checksum matches`);
}

async function streamDownload(dump: OpenedDump, stdin: Writable, exited: Promise<ChildExit>): Promise<Digest> {
    try {
        return await feed(dump.headerChunks, dump.remainingChunks, stdin, exited);
    } catch (error) {
        throw dump.fail(
            "unreachable",
            "download dump",
            `reading ${dump.key} failed mid-way: ${describe(error)}`,
            `check the connection to ${dump.store.location} and retry.`,
            error,
        );
    }
}

function checkExit({ fail }: OpenedDump, exit: ChildExit): void {
    if (exit.code === 0) return;
    throw fail(
        "restore-failed",
        "pg_restore",
        exitSummary("pg_restore", exit),
        "free disk space on the server (or pass --tablespace on a larger volume) if it ran out; otherwise see pg_restore's message.",
    );
}

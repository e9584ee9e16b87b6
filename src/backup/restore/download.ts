/**
 * Phases 3 and 4: the download. Its archive header names the database that was dumped, so
 * another tenant's dump is refused before anything is created. With parallel jobs the whole
 * dump then goes to a private temporary file whose checksum is verified, again before anything
 * is created on the server.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { finished } from "node:stream/promises";
import { ArchiveHeader, ArchiveHeaderError, parseArchiveHeader } from "../archive-header";
import { Fail, describe } from "../errors";
import { StoreError } from "../store";
import { OpenedDump, ServerSession } from "./context";
import { feed } from "./feed";
import { defaultRestoreJobs } from "./options";
import { verifyDigest } from "./verify";

export async function openDump(session: ServerSession): Promise<OpenedDump> {
    const { store, key, names, options, fail, created } = session;
    try {
        created.download = await store.getStream(key);
    } catch (error) {
        const kind = error instanceof StoreError && error.reason === "missing" ? "missing" : "unreachable";
        throw fail(kind, "download dump", describe(error), `check that ${store.location} is readable.`, error);
    }
    const remainingChunks = created.download[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const { header, headerChunks } = await readHeader(remainingChunks, key, fail);
    if (header.database !== names.database) {
        throw fail(
            "mismatch",
            "check archive header",
            `the dump ${key} is a dump of database ${header.database}, not ${names.database}; refusing to restore it.`,
            "pick one of this tenant's own backups.",
        );
    }
    const dump: OpenedDump = { ...session, headerChunks, remainingChunks, jobs: options.jobs ?? defaultRestoreJobs() };
    return dump.jobs > 1 ? { ...dump, localCopy: await copyLocally(dump) } : dump;
}

async function readHeader(
    chunks: AsyncIterator<Buffer>,
    key: string,
    fail: Fail,
): Promise<{ header: ArchiveHeader; headerChunks: Buffer[] }> {
    const headerChunks: Buffer[] = [];
    for (;;) {
        let next: IteratorResult<Buffer>;
        try {
            next = await chunks.next();
        } catch (error) {
            throw fail(
                "unreachable",
                "download dump",
                `reading ${key} failed: ${describe(error)}`,
                "check the connection to the bucket and retry.",
                error,
            );
        }
        if (next.done) {
            throw fail(
                "corrupt",
                "check archive header",
                `the dump ${key} ends before its pg_dump header does.`,
                "restore another backup.",
            );
        }
        headerChunks.push(Buffer.from(next.value));
        try {
            const header = parseArchiveHeader(Buffer.concat(headerChunks));
            if (header) return { header, headerChunks };
        } catch (error) {
            if (error instanceof ArchiveHeaderError) {
                throw fail(
                    "corrupt",
                    "check archive header",
                    `the dump ${key} is not a pg_dump custom archive: ${error.message}.`,
                    "restore another backup.",
                );
            }
            throw error;
        }
    }
}

/** The rest of the download into a file only this user can read; returns its path once its checksum matches the manifest. */
async function copyLocally(dump: OpenedDump): Promise<string> {
    const { key, options, fail, created } = dump;
    const folder = await mkdtemp(path.join(options.tempDir ?? os.tmpdir(), "tenantdb-restore-"));
    created.tempFolder = folder;
    const localCopy = path.join(folder, "dump");
    const file = createWriteStream(localCopy, { mode: 0o600 });
    let copied;
    try {
        // Unlike pg_restore a file never goes away mid-way; a write failure surfaces through finished().
        copied = await feed(dump.headerChunks, dump.remainingChunks, file, new Promise(() => undefined));
        await finished(file);
    } catch (error) {
        throw fail(
            "unreachable",
            "download dump",
            `copying ${key} to ${folder} failed: ${describe(error)}`,
            "check the connection to the store and the free space in the temp folder (or pass --jobs 1 to stream without a local copy).",
            error,
        );
    }
    verifyDigest(dump, copied);
    return localCopy;
}

/**
 * Phases 3 and 4: the download. Its archive header names the database that was dumped, so
 * another tenant's dump is refused before anything is created. With parallel jobs the temp
 * folder's disk must have room for the whole dump, which then goes to a private temporary file
 * whose checksum is verified, again before anything is created on the server.
 */
import { createHash } from "node:crypto";
import { mkdtemp, open, statfs } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { ArchiveHeader, ArchiveHeaderError, parseArchiveHeader } from "../archive-header";
import { Fail, TenantBackupError, describe } from "../errors";
import { StoreError } from "../store";
import { OpenedDump, ServerSession } from "./context";
import { Digest } from "./feed";
import { defaultRestoreJobs } from "./options";
import { verifyDigest } from "./verify";

export async function openDump(session: ServerSession): Promise<OpenedDump> {
    const { store, key, names, options, fail, created } = session;
    const jobs = options.jobs ?? defaultRestoreJobs();
    const tempDir = path.resolve(options.tempDir ?? os.tmpdir());
    // Before the download is opened: a temp folder without room for the dump costs no transfer at all.
    if (jobs > 1) await checkFreeSpace(session, tempDir);
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
    const dump: OpenedDump = { ...session, headerChunks, remainingChunks, jobs };
    return jobs > 1 ? { ...dump, localCopy: await copyLocally(dump, tempDir) } : dump;
}

export async function readHeader(
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

/**
 * A restore's temp folder is `tenantdb-restore-<tenant>-<pid>-XXXXXX`: `backup doctor` finds the
 * folders a killed restore left and removes one only when the process named in it is gone.
 * Tenant ids have no dashes, so the name parses back.
 */
export const TEMP_FOLDER_PREFIX = "tenantdb-restore-";
const TEMP_FOLDER_NAME = /^tenantdb-restore-([a-z][a-z0-9_]*)-(\d+)-[A-Za-z0-9]{6}$/;

export function tempFolderPrefix(tenantId: string, pid = process.pid): string {
    return `${TEMP_FOLDER_PREFIX}${tenantId}-${pid}-`;
}

/** The tenant and process of a restore's temp folder name, or undefined for any other name. */
export function parseTempFolderName(name: string): { tenantId: string; pid: number } | undefined {
    const match = TEMP_FOLDER_NAME.exec(name);
    return match ? { tenantId: match[1], pid: Number(match[2]) } : undefined;
}

/**
 * The rest of the download into a file only this user can read; returns its path once its checksum
 * matches the manifest. The first write error ends the copy: reading on (as the pipe into pg_restore
 * does, for an exact checksum verdict) would only download the rest of a dump that has nowhere to
 * go. The run's cleanup removes the folder, partial copy and all.
 */
async function copyLocally(dump: OpenedDump, tempDir: string): Promise<string> {
    const { created, tenantId } = dump;
    let folder: string;
    try {
        folder = await mkdtemp(path.join(tempDir, tempFolderPrefix(tenantId)));
    } catch (error) {
        throw tempFolderFault(dump, tempDir, error);
    }
    created.tempFolder = folder;
    const localCopy = path.join(folder, "dump");
    const copied = await writeCopy(dump, localCopy).catch((error: unknown) => {
        throw error instanceof TenantBackupError ? error : tempFolderFault(dump, tempDir, error);
    });
    verifyDigest(dump, copied);
    return localCopy;
}

/** The disk of the temp folder must have room for the whole dump (its manifest's size) before anything is copied. */
async function checkFreeSpace(dump: ServerSession, tempDir: string): Promise<void> {
    const { key, manifest, fail } = dump;
    let free: number;
    try {
        const disk = await statfs(tempDir);
        free = disk.bavail * disk.bsize;
    } catch (error) {
        throw tempFolderFault(dump, tempDir, error);
    }
    if (free >= manifest.sizeBytes) return;
    throw fail(
        "unreachable",
        COPY_STEP,
        `the temp folder ${tempDir} has ${bytes(free)} free, but the dump ${key} needs ${bytes(manifest.sizeBytes)} (its manifest's sizeBytes).`,
        biggerDisk(manifest.sizeBytes),
    );
}

/** Writes every chunk, hashing what was read; a store read failure is a TenantBackupError, a disk failure is thrown as is. */
async function writeCopy(dump: OpenedDump, file: string): Promise<Digest> {
    const { key, store, fail } = dump;
    const hash = createHash("sha256");
    let read = 0;
    const handle = await open(file, "wx", 0o600);
    try {
        const write = async (chunk: Buffer) => {
            hash.update(chunk);
            read += chunk.length;
            // A write may take part of a chunk when the disk is nearly full; the next one then fails.
            for (let offset = 0; offset < chunk.length;) {
                const { bytesWritten } = await handle.write(chunk, offset);
                if (bytesWritten === 0) throw Object.assign(new Error("the disk took no more bytes"), { code: "ENOSPC" });
                offset += bytesWritten;
            }
        };
        for (const chunk of dump.headerChunks) await write(chunk);
        for (;;) {
            let next: IteratorResult<Buffer>;
            try {
                next = await dump.remainingChunks.next();
            } catch (error) {
                throw fail(
                    "unreachable",
                    "download dump",
                    `reading ${key} failed: ${describe(error)}`,
                    `check the connection to ${store.location} and retry.`,
                    error,
                );
            }
            if (next.done) break;
            await write(Buffer.from(next.value));
        }
    } finally {
        await handle.close();
    }
    return { bytes: read, sha256: hash.digest("hex") };
}

const COPY_STEP = "copy dump to temp folder";

const STREAM_INSTEAD = "or --jobs 1 to stream the dump into pg_restore without a local copy.";
const biggerDisk = (needed: number) => `pass --temp-dir with a folder on a disk with at least ${bytes(needed)} free, ${STREAM_INSTEAD}`;

/** A file system error of the temp folder, naming the folder, what the dump needs and the way out. */
function tempFolderFault({ key, manifest, fail }: ServerSession, tempDir: string, error: unknown): TenantBackupError {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const problems: Record<string, string> = {
        ENOSPC: `the temp folder ${tempDir} ran out of space (ENOSPC) while the dump ${key}, ${bytes(manifest.sizeBytes)}, was copied into it.`,
        EDQUOT: `the temp folder ${tempDir} ran out of disk quota (EDQUOT) while the dump ${key}, ${bytes(manifest.sizeBytes)}, was copied into it.`,
        EROFS: `the temp folder ${tempDir} is on a read-only file system (EROFS).`,
        EACCES: `this user (uid ${process.getuid?.() ?? "?"}) may not write to the temp folder ${tempDir} (EACCES).`,
        EPERM: `this user (uid ${process.getuid?.() ?? "?"}) may not write to the temp folder ${tempDir} (EPERM).`,
        ENOENT: `the temp folder ${tempDir} does not exist (ENOENT).`,
        ENOTDIR: `the temp folder ${tempDir} is not a folder (ENOTDIR).`,
    };
    const problem = (code && problems[code]) ?? `copying ${key} into the temp folder ${tempDir} failed: ${describe(error)}.`;
    const fix =
        code === "ENOSPC" || code === "EDQUOT"
            ? biggerDisk(manifest.sizeBytes)
            : `pass --temp-dir with a writable folder, ${STREAM_INSTEAD}`;
    return fail("unreachable", COPY_STEP, problem, fix, error);
}

/** `52.1 KiB (53304 bytes)`: readable for a person, exact for comparing. */
function bytes(n: number): string {
    let value = n;
    let unit = "";
    for (const next of ["KiB", "MiB", "GiB", "TiB"]) {
        if (value < 1024) break;
        value /= 1024;
        unit = next;
    }
    return unit ? `${value.toFixed(1)} ${unit} (${n} bytes)` : `${n} bytes`;
}

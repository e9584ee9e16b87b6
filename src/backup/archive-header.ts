/**
 * Reads the header of a pg_dump custom-format archive: the first few hundred bytes name the
 * database that was dumped. Restore checks it before creating anything, so a dump of
 * another tenant is refused even when its manifest and metadata were rewritten.
 * Layout: pg_backup_archiver.c, WriteHead (archive versions 1.12 to 1.16).
 */

export interface ArchiveHeader {
    /** e.g. "1.14". */
    readonly archiveVersion: string;
    /** 1 = custom, 3 = tar, 5 = directory. */
    readonly format: number;
    readonly database: string;
    readonly serverVersion: string;
    readonly pgDumpVersion: string;
}

/** The archive is not a pg_dump archive (or is damaged at its very start). */
export class ArchiveHeaderError extends Error {
    override readonly name = "ArchiveHeaderError";
}

class NeedMore extends Error {}

/**
 * Parses the header from the first bytes of an archive. Returns undefined when `bytes` is
 * too short to hold the whole header yet; throws ArchiveHeaderError when it is not one.
 */
export function parseArchiveHeader(bytes: Buffer): ArchiveHeader | undefined {
    let offset = 0;
    const take = (n: number): Buffer => {
        if (offset + n > bytes.length) throw new NeedMore();
        const slice = bytes.subarray(offset, offset + n);
        offset += n;
        return slice;
    };
    try {
        if (take(5).toString("latin1") !== "PGDMP") throw new ArchiveHeaderError("it does not start with the pg_dump magic bytes PGDMP");
        const [major, minor] = take(3);
        if (major !== 1 || minor < 12 || minor > 16) throw new ArchiveHeaderError(`unsupported archive version ${major}.${minor}`);
        const [intSize, offSize, format] = take(3);
        if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8)
            throw new ArchiveHeaderError(`implausible integer sizes ${intSize}/${offSize}`);
        const readInt = (): number => {
            const sign = take(1)[0];
            let value = 0;
            const raw = take(intSize);
            for (let i = intSize - 1; i >= 0; i--) value = value * 256 + raw[i];
            return sign ? -value : value;
        };
        const readString = (): string => {
            const length = readInt();
            if (length < 0) return "";
            if (length > 4096) throw new ArchiveHeaderError(`implausible string length ${length} in the header`);
            return take(length).toString("utf8");
        };
        if (minor >= 15)
            take(1); // compression algorithm
        else readInt(); // compression level
        for (let i = 0; i < 7; i++) readInt(); // creation time (struct tm)
        const database = readString();
        const serverVersion = readString();
        const pgDumpVersion = readString();
        return { archiveVersion: `${major}.${minor}`, format, database, serverVersion, pgDumpVersion };
    } catch (error) {
        if (error instanceof NeedMore) {
            if (bytes.length > 64 * 1024) throw new ArchiveHeaderError("the header does not end within 64 KiB");
            return undefined;
        }
        throw error;
    }
}

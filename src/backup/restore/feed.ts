/** Moving the download into its consumer while every byte is hashed. */
import { createHash } from "node:crypto";
import { Writable } from "node:stream";

/** What was read: held to the manifest's sizeBytes and sha256. */
export interface Digest {
    readonly bytes: number;
    readonly sha256: string;
}

/**
 * Writes the download into `sink` (pg_restore's stdin, or the local copy) and hashes every
 * byte. If the sink stops taking bytes (pg_restore failed), the rest is still read and hashed so
 * the checksum verdict stays exact.
 */
export async function feed(
    first: readonly Buffer[],
    rest: AsyncIterator<Buffer>,
    sink: Writable,
    sinkGone: Promise<unknown>,
): Promise<Digest> {
    const hash = createHash("sha256");
    let bytes = 0;
    let open = true;
    let wake: (() => void) | undefined;
    sink.on("error", () => {
        open = false; // EPIPE: pg_restore exited; its status tells why
    });
    void sinkGone.then(() => {
        open = false;
        wake?.();
    });
    const writable = () =>
        new Promise<void>((resolve) => {
            const done = () => {
                sink.off("drain", done);
                sink.off("close", done);
                wake = undefined;
                resolve();
            };
            wake = done;
            sink.on("drain", done);
            sink.on("close", done);
        });
    const write = async (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (open && !sink.write(chunk)) await writable();
    };
    for (const chunk of first) await write(chunk);
    for (;;) {
        const next = await rest.next();
        if (next.done) break;
        await write(Buffer.from(next.value));
    }
    if (open) sink.end();
    return { bytes, sha256: hash.digest("hex") };
}

/**
 * Where backups live: the tenant's S3 bucket (SSE-KMS with the tenant's key, multipart
 * upload streamed from pg_dump) or, for development, a local directory. Both sit behind
 * one small interface so backup, restore, drill and list do not care which.
 */
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import {
    DeleteObjectCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { describe } from "./errors";
import { S3Settings, TenantBackupTarget } from "./inventory";

/** Why a store operation failed: the object is not there, or the store itself is unusable. */
export class StoreError extends Error {
    override readonly name = "StoreError";
    /** What is wrong, without the fix; the message when the store has no fix of its own. */
    readonly problem: string;
    /** What to do, when the store knows better than its caller (file:// destinations do); the message ends with it. */
    readonly fix?: string;
    constructor(
        readonly reason: "missing" | "unreachable",
        message: string,
        options?: { cause?: unknown; fix?: string },
    ) {
        super(options?.fix ? `${message}; ${options.fix}` : message, { cause: options?.cause });
        this.problem = message;
        this.fix = options?.fix;
    }
}

export interface StoredObject {
    readonly key: string;
    readonly size: number;
}

/** An object still being written, or left by a writer that was killed: never listed, never restored. */
export interface PartialObject extends StoredObject {
    /** `file:///...`: for messages. */
    readonly uri: string;
    /** The process that wrote it; undefined for partial files of versions that did not record one. */
    readonly writer?: { readonly pid: number; readonly host: string };
    readonly modifiedAt: Date;
}

/** User metadata stored with an object (S3 `x-amz-meta-*`); lower-case keys. */
export type ObjectMetadata = Record<string, string>;

export interface BackupStore {
    /** `s3://bucket/prefix/` or `file:///dir/`: for messages, never credentials. */
    readonly location: string;
    /** Key prefix of this destination (`prefix/` or empty). */
    readonly prefix: string;
    /** Streams `body` to `key`. Rejects (and leaves no complete object) when `body` errors. */
    upload(key: string, body: Readable, metadata: ObjectMetadata): Promise<void>;
    putText(key: string, text: string, metadata: ObjectMetadata): Promise<void>;
    getText(key: string): Promise<string>;
    getStream(key: string): Promise<Readable>;
    /** Metadata and size, or undefined when the object does not exist. */
    head(key: string): Promise<{ size: number; metadata: ObjectMetadata } | undefined>;
    /** Every object whose key starts with `prefix`. */
    list(prefix: string): Promise<StoredObject[]>;
    remove(key: string): Promise<void>;
    /** Partial objects under `prefix`, for `backup doctor`; only stores whose partial writes are visible have it (file://). */
    listPartial?(prefix: string): Promise<PartialObject[]>;
}

export interface StoreOptions {
    readonly s3?: S3Settings;
    /** A ready client (tests, custom credentials); otherwise one is built from `s3`. */
    readonly s3Client?: S3Client;
    /** Multipart part size in bytes. Defaults to 16 MiB (up to ~160 GiB per dump). */
    readonly partSize?: number;
}

/** Opens the destination of a tenant. */
export function openStore(target: TenantBackupTarget, options: StoreOptions = {}): BackupStore {
    const url = new URL(target.destination);
    if (url.protocol === "file:") return new FileStore(fileURLToPath(url));
    if (url.protocol === "s3:") {
        const client =
            options.s3Client ??
            new S3Client({
                region: options.s3?.region ?? process.env.AWS_REGION ?? "us-east-1",
                endpoint: options.s3?.endpoint,
                forcePathStyle: options.s3?.forcePathStyle,
            });
        const prefix = url.pathname.replace(/^\/+/, "");
        return new S3Store(
            client,
            url.hostname,
            prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`,
            target.kmsKeyId,
            options.partSize,
        );
    }
    throw new Error(`Unsupported destination ${target.destination}: use s3://bucket/prefix or file:///path.`);
}

function s3ErrorName(error: unknown): string {
    const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    if (e?.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket") return "NotFound";
    return e?.name ?? e?.Code ?? "Error";
}

export class S3Store implements BackupStore {
    readonly location: string;
    constructor(
        private readonly client: S3Client,
        private readonly bucket: string,
        readonly prefix: string,
        private readonly kmsKeyId: string | undefined,
        private readonly partSize = 16 * 1024 * 1024,
    ) {
        this.location = `s3://${bucket}/${prefix}`;
    }

    private fail(action: string, key: string, error: unknown): never {
        const name = s3ErrorName(error);
        const where = `s3://${this.bucket}/${key}`;
        if (name === "NoSuchKey" || name === "NotFound") throw new StoreError("missing", `${where} does not exist`, { cause: error });
        const detail = name === "NoSuchBucket" ? `bucket ${this.bucket} does not exist` : `${name}: ${(error as Error)?.message ?? error}`;
        throw new StoreError("unreachable", `cannot ${action} ${where} (${detail})`, { cause: error });
    }

    private encryption() {
        return this.kmsKeyId ? { ServerSideEncryption: "aws:kms" as const, SSEKMSKeyId: this.kmsKeyId, BucketKeyEnabled: true } : {};
    }

    async upload(key: string, body: Readable, metadata: ObjectMetadata): Promise<void> {
        const upload = new Upload({
            client: this.client,
            params: {
                Bucket: this.bucket,
                Key: key,
                Body: body,
                Metadata: metadata,
                ContentType: "application/octet-stream",
                ...this.encryption(),
            },
            partSize: this.partSize,
            queueSize: 4,
            leavePartsOnError: false,
        });
        // A failing source must fail the upload; lib-storage would otherwise see a short, "complete" stream.
        let sourceError: unknown;
        body.once("error", (error) => {
            sourceError = error;
            void upload.abort().catch(() => undefined);
        });
        try {
            await upload.done();
        } catch (error) {
            if (sourceError) throw sourceError;
            this.fail("upload to", key, error);
        }
        if (sourceError) {
            await this.remove(key).catch(() => undefined);
            throw sourceError;
        }
    }

    async putText(key: string, text: string, metadata: ObjectMetadata): Promise<void> {
        try {
            await this.client.send(
                new PutObjectCommand({
                    Bucket: this.bucket,
                    Key: key,
                    Body: text,
                    Metadata: metadata,
                    ContentType: "application/json",
                    ...this.encryption(),
                }),
            );
        } catch (error) {
            this.fail("write", key, error);
        }
    }

    async getText(key: string): Promise<string> {
        try {
            const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
            return await response.Body!.transformToString("utf8");
        } catch (error) {
            this.fail("read", key, error);
        }
    }

    async getStream(key: string): Promise<Readable> {
        try {
            const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
            return response.Body as Readable;
        } catch (error) {
            this.fail("read", key, error);
        }
    }

    async head(key: string): Promise<{ size: number; metadata: ObjectMetadata } | undefined> {
        try {
            const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
            return { size: response.ContentLength ?? 0, metadata: response.Metadata ?? {} };
        } catch (error) {
            if (s3ErrorName(error) === "NotFound" || s3ErrorName(error) === "NoSuchKey") return undefined;
            this.fail("inspect", key, error);
        }
    }

    async list(prefix: string): Promise<StoredObject[]> {
        const objects: StoredObject[] = [];
        let token: string | undefined;
        try {
            do {
                const page = await this.client.send(
                    new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
                );
                for (const object of page.Contents ?? []) objects.push({ key: object.Key!, size: object.Size ?? 0 });
                token = page.IsTruncated ? page.NextContinuationToken : undefined;
            } while (token);
        } catch (error) {
            this.fail("list", prefix, error);
        }
        return objects;
    }

    async remove(key: string): Promise<void> {
        try {
            await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
        } catch (error) {
            this.fail("delete", key, error);
        }
    }
}

/** Development destination: plain files under a directory. Not encrypted; metadata lives in the manifest only. */
export class FileStore implements BackupStore {
    readonly location: string;
    readonly prefix = "";
    constructor(private readonly root: string) {
        this.location = `file://${root.endsWith("/") ? root : `${root}/`}`;
    }

    private file(key: string): string {
        const resolved = path.resolve(this.root, key);
        if (!resolved.startsWith(path.resolve(this.root) + path.sep))
            throw new Error(`Object key ${JSON.stringify(key)} escapes ${this.root}.`);
        return resolved;
    }

    /** A read failed: a missing object is "missing", anything else names the path and its cause. */
    private readFault(action: string, key: string, error: unknown): StoreError {
        const where = `${this.location}${key}`;
        if (errorCode(error) === "ENOENT") return new StoreError("missing", `${where} does not exist`, { cause: error });
        return fsFault(`cannot ${action} ${where}`, error, this.file(key));
    }

    async upload(key: string, body: Readable): Promise<void> {
        const file = this.file(key);
        const partial = partialName(file);
        try {
            await makeFolders(path.dirname(file));
            // flush: the bytes are on disk before the rename gives them a complete-looking name.
            await pipeline(body, createWriteStream(partial, { mode: 0o600, flush: true }));
            await rename(partial, file);
        } catch (error) {
            // The producer must learn that its bytes have nowhere to go, and an error it raises later
            // (pg_dump killed because of this failure) must not crash the process as an unhandled 'error'.
            body.on("error", ignore);
            body.destroy();
            await rm(partial, { force: true }).catch(ignore);
            // A file system error is the store's; anything else is the body's own failure (pg_dump), passed on as is.
            if ((error as NodeJS.ErrnoException).syscall) throw fsFault(`cannot write ${this.location}${key}`, error, partial);
            throw error;
        }
    }

    async putText(key: string, text: string): Promise<void> {
        const file = this.file(key);
        const partial = partialName(file);
        try {
            await makeFolders(path.dirname(file));
            await writeFile(partial, text, { mode: 0o600, flush: true });
            await rename(partial, file);
        } catch (error) {
            await rm(partial, { force: true }).catch(ignore);
            throw fsFault(`cannot write ${this.location}${key}`, error, partial);
        }
    }

    async getText(key: string): Promise<string> {
        try {
            return await readFile(this.file(key), "utf8");
        } catch (error) {
            throw this.readFault("read", key, error);
        }
    }

    async getStream(key: string): Promise<Readable> {
        const file = this.file(key);
        try {
            await stat(file);
        } catch (error) {
            throw this.readFault("read", key, error);
        }
        return createReadStream(file, { highWaterMark: 1024 * 1024 });
    }

    async head(key: string): Promise<{ size: number; metadata: ObjectMetadata } | undefined> {
        try {
            return { size: (await stat(this.file(key))).size, metadata: {} };
        } catch (error) {
            if (errorCode(error) === "ENOENT") return undefined;
            throw this.readFault("inspect", key, error);
        }
    }

    async list(prefix: string): Promise<StoredObject[]> {
        const found = await this.entries(prefix);
        return found.filter((entry) => !entry.name.endsWith(PARTIAL_SUFFIX)).map(({ key, size }) => ({ key, size }));
    }

    async listPartial(prefix: string): Promise<PartialObject[]> {
        const found = await this.entries(prefix);
        return found
            .filter((entry) => entry.name.endsWith(PARTIAL_SUFFIX))
            .map(({ key, size, modifiedAt, name }) => ({
                key,
                size,
                modifiedAt,
                uri: `${this.location}${key}`,
                writer: parsePartialName(name),
            }));
    }

    /** The files directly under the folder `prefix` points into whose keys start with it, sorted by key. */
    private async entries(prefix: string): Promise<{ key: string; name: string; size: number; modifiedAt: Date }[]> {
        const dir = path.dirname(this.file(`${prefix}x`));
        let names: string[];
        try {
            names = await readdir(dir);
        } catch (error) {
            if (errorCode(error) === "ENOENT") return [];
            throw fsFault(`cannot list ${this.location}${prefix}`, error, dir);
        }
        const found: { key: string; name: string; size: number; modifiedAt: Date }[] = [];
        for (const name of names) {
            const key = path.relative(this.root, path.join(dir, name)).split(path.sep).join("/");
            if (!key.startsWith(prefix)) continue;
            let info;
            try {
                info = await stat(path.join(dir, name));
            } catch (error) {
                if (errorCode(error) === "ENOENT") continue; // removed while listing
                throw fsFault(`cannot list ${this.location}${prefix}`, error, path.join(dir, name));
            }
            if (info.isFile()) found.push({ key, name, size: info.size, modifiedAt: info.mtime });
        }
        return found.sort((a, b) => a.key.localeCompare(b.key));
    }

    async remove(key: string): Promise<void> {
        try {
            await rm(this.file(key), { force: true });
        } catch (error) {
            throw fsFault(`cannot delete ${this.location}${key}`, error, this.file(key));
        }
    }
}

const ignore = () => undefined;

function errorCode(error: unknown): string | undefined {
    return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Partial files are `<file>.<pid>@<host>.partial`: never listed as objects, and `backup doctor`
 * removes one only when its writer, a process on this host, is gone.
 */
const PARTIAL_SUFFIX = ".partial";
const PARTIAL_NAME = /^.+?(?:\.(\d+)@([^/@]+))?\.partial$/;

function partialName(file: string): string {
    return `${file}.${process.pid}@${os.hostname()}${PARTIAL_SUFFIX}`;
}

function parsePartialName(name: string): PartialObject["writer"] {
    const match = PARTIAL_NAME.exec(name);
    return match?.[1] ? { pid: Number(match[1]), host: match[2] } : undefined;
}

/**
 * `mkdir -p`, one level at a time from the deepest folder that exists. Node's own recursive mkdir
 * spins at 100% CPU forever when a folder exists but refuses children with ENOENT (/proc, some
 * FUSE and autofs mounts): it retries the parent (EEXIST), then the child (ENOENT), and so on.
 * Here every error is final.
 */
async function makeFolders(dir: string): Promise<void> {
    const missing: string[] = [];
    for (let at = path.resolve(dir); ; at = path.dirname(at)) {
        const info = await stat(at).catch((error: unknown) => {
            if (errorCode(error) === "ENOENT") return undefined;
            throw error;
        });
        if (info) {
            if (!info.isDirectory()) {
                throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: "ENOTDIR", syscall: "mkdir", path: at });
            }
            break;
        }
        missing.unshift(at);
        if (path.dirname(at) === at) break;
    }
    for (const folder of missing) {
        try {
            // Dumps hold every row of a tenant, password hashes included: owner-only folders.
            await mkdir(folder, { mode: 0o700 });
        } catch (error) {
            if (errorCode(error) !== "EEXIST" || !(await stat(folder)).isDirectory()) throw error;
        }
    }
}

/** `at`, or its deepest existing ancestor, when that is not a folder (a destination that is a file, or a file in its path). */
function fileInTheWay(at: string): string | undefined {
    for (let candidate = path.resolve(at); ; candidate = path.dirname(candidate)) {
        let info;
        try {
            info = statSync(candidate);
        } catch {
            if (path.dirname(candidate) === candidate) return undefined;
            continue;
        }
        return info.isDirectory() ? undefined : candidate;
    }
}

/**
 * A file system error of a file:// destination as one sentence: what failed, on which path, why
 * (with its code), and what to do. The paths are the operator's own; nothing secret is in them.
 */
function fsFault(what: string, error: unknown, file: string): StoreError {
    const code = errorCode(error);
    if (!code) return new StoreError("unreachable", `${what} (${describe(error)})`, { cause: error });
    // Errors of an open file (write, close) carry no path: `file` is the one being written.
    const { path: failed = file, syscall = "write" } = error as NodeJS.ErrnoException;
    // Creating, writing, renaming and removing a file change the folder that holds it: that folder is the one to name.
    const folder = ["open", "mkdir", "rename", "unlink", "rmdir", "write"].includes(syscall) ? path.dirname(failed) : failed;
    const fault = (problem: string, fix: string) => new StoreError("unreachable", `${what}: ${problem}`, { cause: error, fix });
    switch (code) {
        case "EROFS":
            return fault(
                `${folder} is on a read-only file system (EROFS)`,
                "remount it read-write, or use a destination on a writable disk.",
            );
        case "EACCES":
        case "EPERM":
            return fault(
                `this user (uid ${process.getuid?.() ?? "?"}) has no access to ${folder} (${code})`,
                `give it read and write access to ${folder}, or use a destination it may write to.`,
            );
        case "ENOSPC":
            return fault(`the disk holding ${folder} is full (ENOSPC)`, "free space on that disk, or use a destination on a larger one.");
        case "EDQUOT":
            return fault(`the disk quota on ${folder} is used up (EDQUOT)`, "raise the quota, or use a destination on another disk.");
        case "ENOTDIR":
        case "EEXIST":
            return fault(`${fileInTheWay(failed) ?? failed} is a file, not a folder (${code})`, "point the destination at a folder.");
        case "EISDIR":
            return fault(`${failed} is a folder, not a file (EISDIR)`, "move that folder away: an object key names a file.");
        default:
            if (code === "ENOENT" && syscall === "mkdir") {
                return fault(
                    `${folder} refuses new folders (mkdir ${failed}: ENOENT)`,
                    "point the destination at a folder on a regular, writable file system.",
                );
            }
            return fault(describe(error), "check that the destination folder exists and that this user may write to it.");
    }
}

/**
 * Where backups live: the tenant's S3 bucket (SSE-KMS with the tenant's key, multipart
 * upload streamed from pg_dump) or, for development, a local directory. Both sit behind
 * one small interface so backup, restore, drill and list do not care which.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
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
import { S3Settings, TenantBackupTarget } from "./inventory";

/** Why a store operation failed: the object is not there, or the store itself is unusable. */
export class StoreError extends Error {
    override readonly name = "StoreError";
    constructor(
        readonly reason: "missing" | "unreachable",
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
    }
}

export interface StoredObject {
    readonly key: string;
    readonly size: number;
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

    private fail(action: string, key: string, error: unknown): never {
        const code = (error as NodeJS.ErrnoException)?.code;
        const where = `${this.location}${key}`;
        if (code === "ENOENT") throw new StoreError("missing", `${where} does not exist`, { cause: error });
        throw new StoreError("unreachable", `cannot ${action} ${where} (${(error as Error).message})`, { cause: error });
    }

    async upload(key: string, body: Readable): Promise<void> {
        const file = this.file(key);
        const partial = `${file}.partial`;
        try {
            // Dumps hold every row of a tenant, password hashes included: owner-only files and folders.
            await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
            await pipeline(body, createWriteStream(partial, { mode: 0o600 }));
            await rename(partial, file);
        } catch (error) {
            await rm(partial, { force: true });
            if ((error as NodeJS.ErrnoException)?.syscall) this.fail("write", key, error);
            throw error;
        }
    }

    async putText(key: string, text: string): Promise<void> {
        const file = this.file(key);
        try {
            await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
            await writeFile(`${file}.partial`, text, { mode: 0o600 });
            await rename(`${file}.partial`, file);
        } catch (error) {
            this.fail("write", key, error);
        }
    }

    async getText(key: string): Promise<string> {
        try {
            return await readFile(this.file(key), "utf8");
        } catch (error) {
            this.fail("read", key, error);
        }
    }

    async getStream(key: string): Promise<Readable> {
        const file = this.file(key);
        try {
            await stat(file);
        } catch (error) {
            this.fail("read", key, error);
        }
        return createReadStream(file, { highWaterMark: 1024 * 1024 });
    }

    async head(key: string): Promise<{ size: number; metadata: ObjectMetadata } | undefined> {
        try {
            return { size: (await stat(this.file(key))).size, metadata: {} };
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
            this.fail("inspect", key, error);
        }
    }

    async list(prefix: string): Promise<StoredObject[]> {
        const dir = path.dirname(this.file(`${prefix}x`));
        let names: string[];
        try {
            names = await readdir(dir);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
            this.fail("list", prefix, error);
        }
        const objects: StoredObject[] = [];
        for (const name of names) {
            const key = path.relative(this.root, path.join(dir, name)).split(path.sep).join("/");
            if (!key.startsWith(prefix) || name.endsWith(".partial")) continue;
            const info = await stat(path.join(dir, name));
            if (info.isFile()) objects.push({ key, size: info.size });
        }
        return objects.sort((a, b) => a.key.localeCompare(b.key));
    }

    async remove(key: string): Promise<void> {
        await rm(this.file(key), { force: true });
    }
}

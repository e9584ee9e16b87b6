/** Minimal types for the s3rver dev dependency (it ships none). */
declare module "s3rver" {
    interface S3rverOptions {
        address?: string;
        port?: number;
        silent?: boolean;
        directory: string;
        resetOnClose?: boolean;
        allowMismatchedSignatures?: boolean;
        vhostBuckets?: boolean;
        configureBuckets?: { name: string; configs?: unknown[] }[];
    }
    class S3rver {
        constructor(options: S3rverOptions);
        run(): Promise<{ address: string; port: number }>;
        close(): Promise<void>;
    }
    export = S3rver;
}

/**
 * What the backup tool backs up: admin connections per PostgreSQL server and, per tenant,
 * the server, bucket, KMS key and destination. Read once, at the entry point, from a YAML
 * or JSON file (format documented in docs at the bottom of this file and in README).
 */
import { readFileSync } from "node:fs";
import { parseYamlQuietly } from "../shared/yaml";
import { z } from "zod";
import { assertTenantId } from "../config/tenant-id";
import { DEFAULT_SIGNING_KEY_ENV, ManifestSigningKey } from "./signing";

/** libpq `sslmode` values the tool passes on; `disable` is for local servers only. */
export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";

/**
 * A server-level admin connection. Backup and restore need it to create, rename and drop
 * databases and to terminate connections; it must be a superuser or a member of every
 * tenant's owner role (with CREATEDB).
 */
export interface BackupServer {
    /** Name used in logs and errors, e.g. `eu-1`. Never the host's credentials. */
    readonly name: string;
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    /** libpq sslmode. Defaults to `require` for non-local hosts, `disable` for 127.0.0.1/localhost. */
    readonly ssl?: SslMode;
    /** CA bundle for `verify-ca`/`verify-full`, e.g. the RDS global bundle. */
    readonly sslRootCert?: string;
}

/** Where and how one tenant is backed up. */
export interface TenantBackupTarget {
    readonly tenantId: string;
    readonly server: BackupServer;
    /** The tenant's backup bucket (S3 destinations). */
    readonly bucket?: string;
    /** KMS key (ARN, id or alias) for SSE-KMS. Required for `s3://` destinations. */
    readonly kmsKeyId?: string;
    /** `s3://bucket/prefix` or `file:///absolute/path` (development only: not encrypted). */
    readonly destination: string;
}

/** S3 client settings shared by every s3:// destination; credentials come from the AWS default chain. */
export interface S3Settings {
    readonly region?: string;
    /** For S3-compatible servers (MinIO, s3rver); omit for AWS. */
    readonly endpoint?: string;
    readonly forcePathStyle?: boolean;
}

export interface BackupInventory {
    readonly s3: S3Settings;
    readonly tenants: readonly TenantBackupTarget[];
    /** From `signingKeyEnv` (default TENANTDB_BACKUP_SIGNING_KEY); undefined when that variable is unset. */
    readonly signingKey?: ManifestSigningKey;
}

const serverSchema = z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    user: z.string().min(1),
    /** Refused with its fix (passwordEnv): accepted by the schema only to say so. */
    password: z.unknown().optional(),
    /** Name of the environment variable holding the password. */
    passwordEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .optional(),
    ssl: z.enum(["disable", "require", "verify-ca", "verify-full"]).optional(),
    sslRootCert: z.string().min(1).optional(),
});

const tenantSchema = z.strictObject({
    id: z.string().min(1),
    server: z.string().min(1),
    bucket: z.string().min(3).optional(),
    kmsKeyId: z.string().min(1).optional(),
    destination: z.string().min(1).optional(),
});

const inventorySchema = z.strictObject({
    s3: z
        .strictObject({
            region: z.string().min(1).optional(),
            endpoint: z.url().optional(),
            forcePathStyle: z.boolean().optional(),
        })
        .optional(),
    servers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), serverSchema),
    tenants: z.array(tenantSchema),
    /** Environment variable holding the manifest signing key (hex, 32 bytes or more). */
    signingKeyEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .optional(),
});

/** Reads and validates an inventory file (`.yaml`, `.yml` or `.json`). */
export function loadInventory(file: string, env: NodeJS.ProcessEnv = process.env): BackupInventory {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (error) {
        throw new Error(
            `Cannot read the backup inventory ${file}: ${(error as Error).message}. Pass --config <file> or set TENANTDB_BACKUP_CONFIG.`,
            { cause: error },
        );
    }
    // JSON is YAML too; either parser error would quote the file, and an inventory line may hold a password.
    const raw = parseYamlQuietly(text, `backup inventory ${file}`);
    return parseInventory(raw, env, file);
}

/** Validates an already-parsed inventory; every problem is reported at once, with its path. */
export function parseInventory(raw: unknown, env: NodeJS.ProcessEnv = process.env, source = "inventory"): BackupInventory {
    const parsed = inventorySchema.safeParse(raw);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
        throw new Error(`Invalid backup inventory ${source}:\n  ${problems.join("\n  ")}`);
    }
    const problems: string[] = [];
    const servers = new Map<string, BackupServer>();
    for (const [name, server] of Object.entries(parsed.data.servers)) {
        let password: string | undefined;
        if (server.passwordEnv) {
            password = env[server.passwordEnv];
            if (!password) problems.push(`servers.${name}.passwordEnv: environment variable ${server.passwordEnv} is not set`);
        }
        const example = `TENANTDB_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_PASSWORD`;
        // An admin password in the file sits in clear in a file that is copied and committed: refused.
        if (server.password !== undefined) {
            problems.push(
                `servers.${name}.password: is plain text in the inventory, but it must be a secret: remove it, put the password in an ` +
                    `environment variable and name that variable in passwordEnv (e.g. passwordEnv: ${example})`,
            );
        } else if (!server.passwordEnv) {
            problems.push(
                `servers.${name}: passwordEnv is required (the name of the environment variable holding the admin password, e.g. ${example})`,
            );
        }
        const local = server.host === "127.0.0.1" || server.host === "localhost" || server.host === "::1";
        servers.set(name, {
            name,
            host: server.host,
            port: server.port,
            user: server.user,
            password: password ?? "",
            ssl: server.ssl ?? (local ? "disable" : "require"),
            sslRootCert: server.sslRootCert,
        });
    }
    const seen = new Set<string>();
    const tenants: TenantBackupTarget[] = [];
    parsed.data.tenants.forEach((tenant, index) => {
        const at = `tenants.${index} (${tenant.id})`;
        try {
            assertTenantId(tenant.id);
        } catch (error) {
            problems.push(`${at}: ${(error as Error).message}`);
        }
        if (seen.has(tenant.id)) problems.push(`${at}: duplicate tenant id`);
        seen.add(tenant.id);
        const server = servers.get(tenant.server);
        if (!server) problems.push(`${at}: unknown server ${JSON.stringify(tenant.server)}; declare it under servers`);
        const destination = tenant.destination ?? (tenant.bucket ? `s3://${tenant.bucket}/` : undefined);
        if (!destination) {
            problems.push(`${at}: give bucket or destination`);
        } else {
            const problem = destinationProblem(destination, tenant.bucket, tenant.kmsKeyId);
            if (problem) problems.push(`${at}: ${problem}`);
        }
        if (server && destination) {
            tenants.push({ tenantId: tenant.id, server, bucket: tenant.bucket, kmsKeyId: tenant.kmsKeyId, destination });
        }
    });
    const signingKey = readSigningKey(parsed.data.signingKeyEnv, env, problems);
    if (problems.length > 0) throw new Error(`Invalid backup inventory ${source}:\n  ${problems.join("\n  ")}`);
    return { s3: parsed.data.s3 ?? {}, tenants, signingKey };
}

/**
 * The signing key from the named variable. A variable the inventory names must be set; the
 * default one may be unset (listing needs no key; backup and restore then say how to set it).
 */
function readSigningKey(named: string | undefined, env: NodeJS.ProcessEnv, problems: string[]): ManifestSigningKey | undefined {
    const variable = named ?? DEFAULT_SIGNING_KEY_ENV;
    const value = env[variable];
    if (!value) {
        if (named) problems.push(`signingKeyEnv: environment variable ${named} is not set`);
        return undefined;
    }
    try {
        return ManifestSigningKey.fromHex(value, `signingKeyEnv: environment variable ${variable}`);
    } catch (error) {
        problems.push((error as Error).message);
        return undefined;
    }
}

/** Why a destination is unusable for this tenant, or undefined when it is fine. */
export function destinationProblem(destination: string, bucket: string | undefined, kmsKeyId: string | undefined): string | undefined {
    let url: URL;
    try {
        url = new URL(destination);
    } catch {
        return `destination ${JSON.stringify(destination)} is not a URL; use s3://bucket/prefix or file:///path`;
    }
    if (url.protocol === "s3:") {
        if (!url.hostname) return `destination ${destination} names no bucket`;
        if (bucket && url.hostname !== bucket) return `destination bucket ${url.hostname} is not the tenant's bucket ${bucket}`;
        if (!kmsKeyId) return `kmsKeyId is required for s3:// destinations (backups are encrypted with the tenant's KMS key)`;
        return undefined;
    }
    if (url.protocol === "file:") return undefined;
    return `destination ${destination}: unsupported scheme ${url.protocol}; use s3:// or file://`;
}

/** Selects tenants by id (`all` or no ids = every tenant); unknown ids are an error naming them. */
export function selectTenants(inventory: BackupInventory, ids: readonly string[]): TenantBackupTarget[] {
    if (ids.length === 0 || (ids.length === 1 && ids[0] === "all")) return [...inventory.tenants];
    const byId = new Map(inventory.tenants.map((tenant) => [tenant.tenantId, tenant]));
    const unknown = ids.filter((id) => !byId.has(id));
    if (unknown.length > 0) throw new Error(`Unknown tenant(s) ${unknown.join(", ")}: not in the backup inventory.`);
    return ids.map((id) => byId.get(id)!);
}

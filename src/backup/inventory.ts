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
    /**
     * libpq sslmode, from the inventory's `sslmode`. Defaults to `require` for non-local hosts,
     * `disable` for 127.0.0.1/localhost. (The property keeps its name for the callers in src/control.)
     */
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

/** The sslmode values, the same vocabulary as stack config's `sslmode` (libpq's names). */
export const SSL_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = (field: string, example: string) =>
    z
        .string({ error: `must be the name of an environment variable, e.g. ${field}: ${example}` })
        .regex(ENV_NAME, { error: `must be the name of an environment variable (letters, digits and _), e.g. ${field}: ${example}` });
const text = (field: string, example: string) =>
    z.string({ error: `must be a non-empty string, e.g. ${field}: ${example}` }).min(1, { error: `is empty; e.g. ${field}: ${example}` });

/** Fields of each part of the file, named in the error for an unknown one. */
const SERVER_FIELDS = ["host", "port", "user", "passwordEnv", "sslmode", "sslRootCert"];
/** Server fields refused with a message of their own (password: use passwordEnv; ssl: renamed sslmode). */
const REFUSED_SERVER_FIELDS = ["password", "ssl"];
const TENANT_FIELDS = ["id", "server", "bucket", "kmsKeyId", "destination"];
const S3_FIELDS = ["region", "endpoint", "forcePathStyle"];
const TOP_FIELDS = ["s3", "servers", "tenants", "signingKeyEnv"];

const serverSchema = z.object({
    host: text("host", "db1.internal"),
    port: z
        .number({ error: "must be a port number from 1 to 65535, without quotes, e.g. port: 5432" })
        .int({ error: "must be a port number from 1 to 65535, without quotes, e.g. port: 5432" })
        .min(1, { error: "must be a port number from 1 to 65535, e.g. port: 5432" })
        .max(65535, { error: "must be a port number from 1 to 65535, e.g. port: 5432" })
        .default(5432),
    user: text("user", "tenantdb_admin"),
    /** Refused with its fix (passwordEnv): accepted by the schema only to say so. */
    password: z.unknown().optional(),
    /** Name of the environment variable holding the password. */
    passwordEnv: envName("passwordEnv", "TENANTDB_EU_1_PASSWORD").optional(),
    sslmode: z.enum(SSL_MODES, { error: `must be one of ${SSL_MODES.join(", ")}, e.g. sslmode: verify-full` }).optional(),
    sslRootCert: text("sslRootCert", "/etc/ssl/certs/rds-global-bundle.pem").optional(),
});

const tenantSchema = z.object({
    id: text("id", "acme"),
    server: text("server", "eu-1"),
    bucket: z
        .string({ error: "must be the bucket's name, e.g. bucket: tdb-prod-acme" })
        .min(3, { error: "must be the bucket's name (3 characters or more), e.g. bucket: tdb-prod-acme" })
        .optional(),
    kmsKeyId: text("kmsKeyId", "arn:aws:kms:eu-central-1:111122223333:key/...").optional(),
    destination: text("destination", "s3://tdb-prod-acme/ or file:///var/backups/tenantdb").optional(),
});

const s3Schema = z.object({
    region: text("region", "eu-central-1").optional(),
    endpoint: z.url({ error: "must be a URL, e.g. endpoint: http://127.0.0.1:9000" }).optional(),
    forcePathStyle: z.boolean({ error: "must be true or false, without quotes" }).optional(),
});

type Problems = string[];

/** The fields of `raw` that `known` does not list, as problems naming the known ones. */
function unknownFields(raw: unknown, known: readonly string[], at: string, problems: Problems, refused: readonly string[] = []): void {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return;
    for (const field of Object.keys(raw)) {
        if (known.includes(field) || refused.includes(field)) continue;
        problems.push(`${at}${field}: is not a known field; the fields here are ${known.join(", ")}`);
    }
}

/** Parses `raw` with `schema`, each issue as `<path>: <message>`; undefined when it does not parse. */
function parsePart<T extends z.ZodType>(schema: T, raw: unknown, at: string, what: string, problems: Problems): z.infer<T> | undefined {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        problems.push(`${at.replace(/\.$/, "") || "(root)"}: must be a mapping (${what})`);
        return undefined;
    }
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) problems.push(`${at}${issue.path.join(".")}: ${issue.message}`);
    return undefined;
}

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
    const problems: Problems = [];
    const fail = () => new Error(`Invalid backup inventory ${source}:\n  ${problems.join("\n  ")}`);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        problems.push("(root): must be a mapping with servers and tenants; see src/backup/inventory.example.yaml");
        throw fail();
    }
    const top = raw as Record<string, unknown>;
    unknownFields(top, TOP_FIELDS, "", problems);
    const s3 = top.s3 === undefined ? {} : parsePart(s3Schema, top.s3, "s3.", "region, endpoint, forcePathStyle", problems);
    unknownFields(top.s3, S3_FIELDS, "s3.", problems);

    const servers = new Map<string, BackupServer>();
    /** Declared but invalid (reported already): a tenant on one is not also told the server is unknown. */
    const declaredServers = new Set<string>();
    const rawServers = top.servers;
    if (rawServers === undefined || rawServers === null || typeof rawServers !== "object" || Array.isArray(rawServers)) {
        problems.push("servers: is required: a mapping of server name to host, port, user and passwordEnv");
    }
    for (const [name, rawServer] of Object.entries((rawServers as Record<string, unknown> | undefined) ?? {})) {
        const at = `servers.${name}.`;
        if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
            problems.push(`servers.${JSON.stringify(name)}: a server name has only letters, digits, _, . and -, e.g. eu-1`);
        }
        const server = parsePart(serverSchema, rawServer, at, "host, port, user, passwordEnv, sslmode", problems);
        unknownFields(rawServer, SERVER_FIELDS, at, problems, REFUSED_SERVER_FIELDS);
        const oldSsl = (rawServer as { ssl?: unknown } | null)?.ssl;
        if (oldSsl !== undefined) {
            const value = SSL_MODES.includes(oldSsl as never) ? String(oldSsl) : "require";
            problems.push(
                `servers.${name}.ssl: is the old name of sslmode (the one TLS setting of stack config and the inventory); ` +
                    `rename it: sslmode: ${value} (one of ${SSL_MODES.join(", ")})`,
            );
        }
        if (!server) {
            declaredServers.add(name);
            continue;
        }
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
            ssl: server.sslmode ?? (local ? "disable" : "require"),
            sslRootCert: server.sslRootCert,
        });
    }
    const seen = new Set<string>();
    const tenants: TenantBackupTarget[] = [];
    if (!Array.isArray(top.tenants)) problems.push("tenants: is required: a list of { id, server, bucket and kmsKeyId, or destination }");
    ((Array.isArray(top.tenants) ? top.tenants : []) as unknown[]).forEach((rawTenant, index) => {
        const tenant = parsePart(tenantSchema, rawTenant, `tenants.${index}.`, "id, server, bucket, kmsKeyId, destination", problems);
        unknownFields(rawTenant, TENANT_FIELDS, `tenants.${index}.`, problems);
        if (!tenant) return;
        const at = `tenants.${index} (${tenant.id})`;
        try {
            assertTenantId(tenant.id);
        } catch (error) {
            problems.push(`${at}: ${(error as Error).message}`);
        }
        if (seen.has(tenant.id)) problems.push(`${at}: duplicate tenant id`);
        seen.add(tenant.id);
        const server = servers.get(tenant.server);
        if (!server && !declaredServers.has(tenant.server))
            problems.push(`${at}: unknown server ${JSON.stringify(tenant.server)}; declare it under servers`);
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
    let signingKeyEnv: string | undefined;
    if (top.signingKeyEnv !== undefined) {
        const parsed = envName("signingKeyEnv", DEFAULT_SIGNING_KEY_ENV).safeParse(top.signingKeyEnv);
        if (parsed.success) signingKeyEnv = parsed.data;
        else problems.push(`signingKeyEnv: ${parsed.error.issues[0].message}`);
    }
    const signingKey = readSigningKey(signingKeyEnv, env, problems);
    if (problems.length > 0) throw fail();
    return { s3: s3 ?? {}, tenants, signingKey };
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

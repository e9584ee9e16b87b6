/**
 * The shape of a stack's config (`tenantdb:servers`, `tenantdb:tenants`, ...), as zod schemas.
 * Field-level rules live here; rules that relate several fields (placement, capacity,
 * name collisions) live in validate.ts.
 */
import { z } from "zod";
import { MIN_TENANT_CONNECTION_LIMIT } from "./capacity";
import { RESERVED_WORDS } from "./reserved-words";
import { MAX_TENANT_ID_LENGTH } from "../naming";

export const tenantIdSchema = z
    .string({ error: "must be a string, e.g. id: acme_corp" })
    .min(1, { error: "is empty; use lowercase letters, digits and underscores, starting with a letter, e.g. acme_corp" })
    .regex(/^[a-z][a-z0-9_]*$/, {
        error: "must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp",
    })
    // Single underscores only: ids map to DNS-style names (buckets, RDS identifiers) with _ -> -,
    // where a doubled or trailing dash is invalid.
    .refine((id) => !id.includes("__") && !id.endsWith("_"), { error: "must not contain __ or end with _" })
    .max(MAX_TENANT_ID_LENGTH, {
        error: `is longer than ${MAX_TENANT_ID_LENGTH} characters: the database a restore keeps, erp_<id>_before_restore_<timestamp>, would pass PostgreSQL's 63-byte identifier limit; shorten it`,
    })
    .refine((id) => !RESERVED_WORDS.has(id), { error: "is a PostgreSQL reserved word; choose another id, e.g. add a suffix" });

export const serverNameSchema = z
    .string()
    .max(40, { error: "server names are at most 40 characters" })
    .regex(/^[a-z](-?[a-z0-9])*$/, {
        error: "server names must start with a lowercase letter and contain only a-z, 0-9 and single dashes, e.g. shared-1",
    });

/** Extensions a tenant may ask for: trusted, widely available on RDS and stock PostgreSQL. */
export const ALLOWED_EXTENSIONS = [
    "btree_gin",
    "btree_gist",
    "citext",
    "cube",
    "earthdistance",
    "fuzzystrmatch",
    "hstore",
    "intarray",
    "ltree",
    "pg_trgm",
    "pgcrypto",
    "tablefunc",
    "unaccent",
    "uuid-ossp",
] as const;

/**
 * A whole number from `min` to `max`. zod's own messages ("expected number, received string",
 * "Too big") name neither the range nor the fix, and a value such as `4abc` or `1e12` must be
 * refused with both.
 */
function wholeNumber(min: number, max: number, example: number, unit = "") {
    const error = `must be a whole number from ${min} to ${max}${unit}; write a number in that range without quotes or units, e.g. ${example}`;
    return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A number above `min` (or at least, with `inclusive`) and at most `max`; the message names the range and the fix. */
function boundedNumber(min: number, max: number, example: number, unit: string, inclusive = false) {
    const error = `must be a number ${inclusive ? "from" : "above"} ${min} ${inclusive ? "to" : "and at most"} ${max}${unit}; write a number in that range without quotes or units, e.g. ${example}`;
    const atLeast = inclusive ? z.number({ error }).min(min, { error }) : z.number({ error }).gt(min, { error });
    return atLeast.max(max, { error });
}

/** Largest storage RDS allocates (gp3, io1, io2), in GB; also the bound of a tenant's expected size. */
const MAX_STORAGE_GB = 65536;

const locale = z.string().regex(/^[A-Za-z]{1,8}(_[A-Za-z]{2})?(\.[A-Za-z0-9-]+)?$/, {
    error: "must be a locale name such as en_US.UTF-8 or C.UTF-8",
});

/** Most tenants a server holds unless its config says otherwise (the seed's cost model). */
export const DEFAULT_CAPACITY = 50;

const common = {
    /** Most tenants this server may hold. */
    capacity: wholeNumber(1, 1000, DEFAULT_CAPACITY, " tenants").default(DEFAULT_CAPACITY),
    /** Collation and ctype of tenant databases (the locale must exist on the server). */
    locale: locale.default("en_US.UTF-8"),
};

const rdsServerSchema = z.strictObject({
    kind: z.literal("rds"),
    ...common,
    instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { error: "must be an RDS instance class such as db.t4g.medium" }),
    allocatedStorageGb: wholeNumber(20, MAX_STORAGE_GB, 100, " GB").default(20),
    maxAllocatedStorageGb: wholeNumber(20, MAX_STORAGE_GB, 200, " GB").default(100),
    storageType: z.enum(["gp3", "gp2", "io1", "io2"]).default("gp3"),
    engineVersion: z
        .string()
        .regex(/^\d{2}(\.\d+)?$/, { error: "must be a PostgreSQL version such as 16 or 16.4" })
        .default("16"),
    multiAz: z.boolean().default(true),
    backupRetentionDays: wholeNumber(1, 35, 30, " days (RDS's limit)").default(30),
    performanceInsights: z.boolean().default(true),
    subnetGroupName: z.string().min(1).optional(),
    securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, { error: "must be a security group id such as sg-0123abcd" })).default([]),
    publiclyAccessible: z.boolean().default(false),
    /** Pin max_connections (written into the parameter group). Defaults to RDS's formula for the class. */
    maxConnections: wholeNumber(20, 5000, 500).optional(),
    /** SNS topic that receives the CloudWatch alarms. */
    alarmTopicArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:sns:/, { error: "must be an SNS topic ARN" })
        .optional(),
    /** pgaudit classes logged server-wide (https://github.com/pgaudit/pgaudit#pgauditlog). */
    auditLog: z
        .string()
        .regex(/^-?[a-z]+(,\s*-?[a-z]+)*$/)
        .default("ddl,role"),
});

const externalServerSchema = z.strictObject({
    kind: z.literal("external"),
    ...common,
    host: z.string().min(1, { error: "is empty; give the server's host name or address" }),
    port: wholeNumber(1, 65535, 5432).default(5432),
    adminUser: z.string().min(1).default("postgres"),
    sslmode: z.enum(["disable", "require", "verify-ca", "verify-full"]).default("require"),
    /** Whether the admin user is a superuser (the provider then skips some membership dances). */
    superuser: z.boolean().default(false),
    /** The server's max_connections (SHOW max_connections). */
    maxConnections: wholeNumber(20, 100_000, 100).default(100),
});

export const serverSchema = z.discriminatedUnion("kind", [rdsServerSchema, externalServerSchema], {
    error: 'kind must be "rds" (created by this program) or "external" (an existing PostgreSQL server)',
});

/** Overrides for the dedicated RDS server of an enterprise tenant. */
const dedicatedServerSchema = rdsServerSchema.omit({ kind: true, capacity: true }).partial();

/**
 * A tenant's lifecycle (README, "Tenant lifecycle"). active: in use. suspended: logins off,
 * connection limit 0, everything kept. retired: as suspended, with the protection of its
 * resources lifted by the program. erased: declared no more, so its database and roles are
 * deleted and its KMS key is scheduled for deletion; the entry stays as the record.
 */
export const TENANT_STATES = ["active", "suspended", "retired", "erased"] as const;
export type TenantState = (typeof TENANT_STATES)[number];

/**
 * Pulumi reads stack files with Go's YAML, which turns an unquoted timestamp into a time value
 * and hands the program Go's rendering of it, `2026-01-31 12:00:00.5 +0000 UTC`. Any YAML tool
 * may drop the quotes tenantdb writes, so that form is read back as the ISO time it was.
 */
function isoFromGoTime(value: unknown): unknown {
    const go = typeof value === "string" ? /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) \+0000 UTC$/.exec(value) : null;
    return go ? `${go[1]}T${go[2]}Z` : value;
}

/** One lifecycle transition: who moved the tenant to which state, and when. */
export const transitionSchema = z.strictObject({
    state: z.enum(TENANT_STATES),
    at: z.preprocess(isoFromGoTime, z.iso.datetime({ error: "must be an ISO 8601 UTC time such as 2026-01-31T12:00:00Z" })),
    by: z.string().min(1).max(200),
    /** The verified final backup a suspension was taken after. */
    backup: z.string().max(1000).optional(),
    reason: z.string().max(500).optional(),
});
export type Transition = z.output<typeof transitionSchema>;

export const tenantSchema = z.strictObject({
    id: tenantIdSchema,
    plan: z.enum(["standard", "enterprise"], { error: 'plan must be "standard" or "enterprise"' }).default("standard"),
    /** The server this tenant lives on. Required for standard tenants; see placement.ts. */
    server: serverNameSchema.optional(),
    /** Database CONNECTION LIMIT; split between roles by roleConnectionLimits(). */
    connectionLimit: wholeNumber(MIN_TENANT_CONNECTION_LIMIT, 5000, 50).default(50),
    /** Extra extensions beyond uuid-ossp and pg_trgm. */
    extensions: z.array(z.enum(ALLOWED_EXTENSIONS, { error: `extensions must be among: ${ALLOWED_EXTENSIONS.join(", ")}` })).default([]),
    /** Days a backup is kept in the tenant's bucket. Defaults to tenantdb:backup.retentionDays. */
    backupRetentionDays: wholeNumber(1, 3650, 30, " days").optional(),
    /** statement_timeout of the app role, in milliseconds. */
    statementTimeoutMs: wholeNumber(1000, 3_600_000, 30_000, " ms").default(30_000),
    /** Expected database size, for the cost preview. Defaults to tenantdb:cost.databaseSizeGb. */
    expectedSizeGb: boundedNumber(0, MAX_STORAGE_GB, 5, " GB").optional(),
    /** Enterprise only: overrides for the dedicated server (defaults: tenantdb:dedicatedServer). */
    dedicated: dedicatedServerSchema.optional(),
    state: z.enum(TENANT_STATES, { error: `state must be one of ${TENANT_STATES.join(", ")}` }).default("active"),
    /** Lifecycle transitions, oldest first; written by the control API (tenants suspend/resume/retire). */
    history: z.array(transitionSchema).default([]),
});

export const backupSchema = z.strictObject({
    /** Declare a per-tenant S3 bucket and KMS key. Off for stacks without an AWS account. */
    buckets: z.boolean().default(true),
    retentionDays: wholeNumber(1, 3650, 30, " days").default(30),
    /** Days a replaced or deleted backup version is kept. */
    noncurrentVersionDays: wholeNumber(1, 365, 7, " days").default(7),
    /** IAM role of the backup job; each tenant's policy is attached to it when set. */
    roleName: z
        .string()
        .regex(/^[\w+=,.@-]{1,64}$/)
        .optional(),
});

export const costSchema = z.strictObject({
    region: z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/)
        .default("us-east-1"),
    databaseSizeGb: boundedNumber(0, MAX_STORAGE_GB, 1, " GB").default(1),
    dailyChangeRate: boundedNumber(0, 1, 0.05, " (a fraction of the database per day)", true).default(0.05),
    transferGbPerTenant: boundedNumber(0, 1_000_000, 10, " GB per month", true).default(10),
    allocation: z.enum(["equal", "storage", "connections"]).default("equal"),
    /** What an external server costs per month (tenantdb cannot know); without it, the server is unpriced. */
    servers: z
        .record(serverNameSchema, z.strictObject({ monthlyUsd: boundedNumber(0, 1_000_000, 120, " USD per month", true) }))
        .default({}),
});

/**
 * The stack as one cell of a fleet (README, "Cells"). A cell takes new tenants up to its capacity:
 * bench:engine shows every engine operation on a stack growing faster than its tenant count.
 * Checked when a tenant is added, so a deployed stack above it keeps working.
 */
export const cellSchema = z.strictObject({
    capacity: wholeNumber(1, 200, 25, " tenants").default(25),
});

export const dedicatedDefaultsSchema = rdsServerSchema.omit({ kind: true }).partial();

export const stackConfigSchema = z.strictObject({
    servers: z.record(serverNameSchema, serverSchema).default({}),
    tenants: z.array(tenantSchema).default([]),
    backup: backupSchema.default(() => backupSchema.parse({})),
    cost: costSchema.default(() => costSchema.parse({})),
    dedicatedServer: dedicatedDefaultsSchema.default({}),
    cell: cellSchema.default(() => cellSchema.parse({})),
});

export type RdsServerConfig = z.output<typeof rdsServerSchema>;
export type ExternalServerConfig = z.output<typeof externalServerSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type TenantConfig = z.output<typeof tenantSchema>;
export type BackupConfig = z.output<typeof backupSchema>;
export type CostConfig = z.output<typeof costSchema>;
export type CellConfig = z.output<typeof cellSchema>;
export type ParsedStackConfig = z.output<typeof stackConfigSchema>;

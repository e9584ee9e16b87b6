/**
 * Request and response schemas of the HTTP API (zod; the OpenAPI document is generated from
 * them). Request fields reuse the stack config's own rules (src/config/schema.ts), so the API
 * refuses exactly what the control API would, but before a job exists.
 */
import { z } from "zod";
import { serverNameSchema, tenantIdSchema, tenantSchema, TENANT_STATES } from "../config/schema";

export const JOB_KINDS = ["provision", "suspend", "resume", "retire", "preview"] as const;
export const JOB_STATES = ["queued", "running", "succeeded", "failed", "interrupted"] as const;

export const tenantIdParams = z.strictObject({ id: tenantIdSchema });
export const jobIdParams = z.strictObject({ id: z.uuid({ error: "must be a job id (a UUID)" }) });

/** Mutating requests carry a key of the caller's choosing: the same key and body give the same job. */
export const idempotencyHeaders = z.looseObject({
    "idempotency-key": z
        .string({ error: "is required on every POST: a unique string per intended operation, e.g. a UUID" })
        .regex(/^[\x21-\x7e]{8,128}$/, { error: "must be 8 to 128 printable ASCII characters without spaces, e.g. a UUID" }),
});

const text = (max: number, what: string) =>
    z
        .string({ error: `must be ${what}` })
        .min(1, { error: `must be ${what}` })
        .max(max, { error: `must be at most ${max} characters` });

/** The tenant's first company and ERP admin; adminPassword is used once and never stored or echoed. */
export const seedSchema = z.strictObject(
    {
        companyName: text(200, "the tenant's first company name"),
        adminEmail: z.email({ error: "must be an email address" }).max(254, { error: "must be at most 254 characters" }),
        adminPassword: z
            .string({ error: "must be a string" })
            .min(12, { error: "must be at least 12 characters" })
            .max(200, { error: "must be at most 200 characters" }),
        baseCurrency: z
            .string()
            .regex(/^[A-Z]{3}$/, { error: "must be an ISO 4217 code such as EUR" })
            .optional(),
    },
    { error: "must be an object { companyName, adminEmail, adminPassword, baseCurrency? }" },
);

const newTenantFields = {
    id: tenantIdSchema,
    plan: z.enum(["standard", "enterprise"], { error: 'must be "standard" or "enterprise"' }).optional(),
    server: serverNameSchema.optional(),
    connectionLimit: tenantSchema.shape.connectionLimit.unwrap().optional(),
};

const newTenant = z.strictObject(newTenantFields, { error: 'must be an object {"id": ..., "plan"?, "server"?, "connectionLimit"?}' });

export const provisionBody = z.strictObject(
    { ...newTenantFields, seed: seedSchema.optional() },
    { error: 'must be a JSON object: {"id": ..., "plan"?, "server"?, "connectionLimit"?, "seed"?}' },
);
export type ProvisionBody = z.infer<typeof provisionBody>;

export const lifecycleBody = z.strictObject(
    {
        reason: text(500, "a short reason, recorded with the transition").optional(),
        overrideRetention: tenantIdSchema
            .describe("retire only: the tenant's id again, to erase before its backups' retention has passed")
            .optional(),
    },
    { error: 'must be a JSON object, e.g. {} or {"reason": "unpaid"}' },
);
export type LifecycleBody = z.infer<typeof lifecycleBody>;

/** A proposed change to preview: one control API call, not made. */
export const previewBody = z.discriminatedUnion(
    "action",
    [
        z.strictObject({ action: z.literal("provision"), tenant: newTenant }),
        z.strictObject({ action: z.enum(["suspend", "resume", "retire"]), tenantId: tenantIdSchema }),
    ],
    { error: 'must be {"action": "provision", "tenant": {...}} or {"action": "suspend" | "resume" | "retire", "tenantId": ...}' },
);
export type PreviewBody = z.infer<typeof previewBody>;

/** TenantdbClient.previewChange's answer (src/preview/types.ts), its inner shapes passed through. */
export const changePreviewSchema = z
    .looseObject({
        stack: z.string(),
        base: z.string(),
        blocked: z.boolean().describe("true when anything is blocked: the action would fail or lose data"),
        tenants: z.array(z.looseObject({ tenantId: z.string(), blocked: z.array(z.string()) })),
        unchanged: z.array(z.string()),
        stackResources: z.unknown(),
        cost: z.looseObject({ beforeUsd: z.number(), afterUsd: z.number(), deltaUsd: z.number() }),
        problems: z.array(z.string()),
    })
    .meta({ id: "ChangePreview" });

export const problemSchema = z
    .object({
        type: z.string(),
        title: z.string(),
        status: z.int(),
        detail: z.string().optional(),
        instance: z.string().optional(),
        errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    })
    .meta({ id: "Problem", description: "RFC 9457 problem details" });

export const jobSchema = z
    .object({
        id: z.uuid(),
        kind: z.enum(JOB_KINDS),
        tenant: z.string(),
        stack: z.string().nullable(),
        state: z.enum(JOB_STATES),
        request: z.record(z.string(), z.unknown()).describe("the request as accepted; secrets (the seed's adminPassword) removed"),
        result: z
            .union([changePreviewSchema, z.record(z.string(), z.unknown())])
            .nullable()
            .describe("when succeeded: a preview's ChangePreview, else the operation's result (tenantId, stack, state or created)"),
        error: problemSchema.nullable(),
        createdBy: z.string(),
        createdAt: z.string(),
        startedAt: z.string().nullable(),
        finishedAt: z.string().nullable(),
    })
    .meta({ id: "Job" });
export type Job = z.infer<typeof jobSchema>;

const tenantState = z.enum(TENANT_STATES);

export const tenantSummarySchema = z.object({
    id: z.string(),
    plan: z.string(),
    server: z.string(),
    state: tenantState,
    since: z.string().optional(),
    stack: z.string(),
});

const unavailable = z.object({ value: z.null(), reason: z.string() });
const available = <T extends z.ZodType>(value: T) => z.object({ value, reason: z.null() });

export const tenantViewSchema = z
    .object({
        id: z.string(),
        plan: z.string(),
        state: tenantState,
        since: z.string().nullable(),
        server: z.string(),
        serverKind: z.string(),
        stack: z.string(),
        cell: z.string().nullable().describe("the stack, when the service serves a fleet of cells"),
        connectionLimit: z.int(),
        backupRetentionDays: z.int(),
        schemaVersion: z.union([available(z.string().nullable()), unavailable]),
        newestBackup: z.union([
            available(z.object({ key: z.string(), startedAt: z.string(), ageHours: z.number() }).nullable()),
            unavailable,
        ]),
        monthlyCost: z.union([
            available(z.object({ monthlyUsd: z.number(), worstCaseMonthlyUsd: z.number(), serverPriced: z.boolean() })),
            unavailable,
        ]),
    })
    .meta({ id: "Tenant" });
export type TenantView = z.infer<typeof tenantViewSchema>;

export const fleetSchema = z.object({
    stacks: z.array(
        z.object({
            stack: z.string(),
            tenants: z.record(z.string(), z.int()).describe("tenants by lifecycle state"),
            capacity: z.int().nullable().describe("the cell's capacity (tenants not erased), when the stack is a cell"),
        }),
    ),
    jobs: z.record(z.string(), z.int()).describe("jobs by state"),
});

export const connectionSchema = z.object({
    tenant: z.string(),
    stack: z.string(),
    role: z.string(),
    connectionString: z.string(),
});

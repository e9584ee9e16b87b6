/**
 * Adapter: a request for a new tenant, from the portal, the CLI or a config-file edit. Checked
 * field by field before it touches any stack's config, with the same id rules as the stack.
 */
import { z } from "zod";
import { ConfigError } from "../errors";
import { serverNameSchema, tenantIdSchema, tenantSchema } from "../schema";

/** A tenant to add: its id, and optionally its plan, connection limit and (standard plan) server. */
export interface NewTenant {
    readonly id: string;
    readonly plan?: "standard" | "enterprise";
    readonly connectionLimit?: number;
    readonly server?: string;
}

const newTenantSchema = z.strictObject({
    id: tenantIdSchema,
    plan: z.enum(["standard", "enterprise"], { error: 'plan must be "standard" or "enterprise"' }).optional(),
    connectionLimit: tenantSchema.shape.connectionLimit.unwrap().optional(),
    server: serverNameSchema.optional(),
});

/** Validates a request; throws ConfigError naming each bad field as `<origin>.<field>`. */
export function parseNewTenant(request: unknown, origin = "request"): NewTenant {
    const parsed = newTenantSchema.safeParse(request);
    if (parsed.success) return parsed.data;
    throw new ConfigError(
        parsed.error.issues.map((issue) => ({
            path: [origin, ...issue.path.map(String), ...(issue.code === "unrecognized_keys" ? issue.keys : [])].join("."),
            message: issue.code === "unrecognized_keys" ? "is not a known field (id, plan, connectionLimit, server)" : issue.message,
        })),
    );
}

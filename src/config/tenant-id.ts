import { tenantIdSchema } from "./schema";

/**
 * The one tenant id check every entry point uses (stack config, migration targets, backup
 * inventory): the same rules everywhere, so an id one tool accepts no other tool refuses.
 * Returns the id, or throws naming every rule it breaks.
 */
export function assertTenantId(tenantId: string): string {
    const result = tenantIdSchema.safeParse(tenantId);
    if (!result.success) {
        throw new Error(
            `Invalid tenant id ${JSON.stringify(tenantId)}: it ${result.error.issues.map((issue) => issue.message).join("; it ")}`,
        );
    }
    return tenantId;
}

/** One problem in the stack config: where it is and what to do about it. */
export interface ConfigProblem {
    /** Path in stack config terms, e.g. `tenantdb:tenants[2].id`. */
    readonly path: string;
    readonly message: string;
}

/**
 * Every problem found in a stack's config, reported at once so one `pulumi up` shows the
 * whole list. Thrown before any resource is declared.
 */
export class ConfigError extends Error {
    constructor(readonly problems: readonly ConfigProblem[]) {
        super(
            `tenantdb config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
                problems.map((problem) => `  - ${problem.path}: ${problem.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Renders a zod-style path (`["tenants", 2, "id"]`) as `tenantdb:tenants[2].id`. */
export function configPath(path: readonly PropertyKey[]): string {
    let rendered = "tenantdb:";
    path.forEach((segment, index) => {
        if (typeof segment === "number") rendered += `[${segment}]`;
        else rendered += index === 0 ? String(segment) : `.${String(segment)}`;
    });
    return rendered;
}

/**
 * The stack outputs: what the program exports (index.ts) and what everything downstream reads
 * back from a deployed stack (the migration runner, the Automation API layer, the sandbox).
 * Written once here; plain types, no Pulumi runtime needed to use them.
 */

/** Per tenant, what the application and the operators need to find it. No secrets here. */
export interface TenantOutput {
    database: string;
    server: string;
    plan: string;
    /** Lifecycle state: active, suspended or retired (erased tenants are not exported). */
    state: string;
    host: string;
    port: number;
    /** libpq sslmode to connect with (require on RDS, the server's setting on external servers). */
    sslmode: string;
    roles: { owner: string; app: string; readonly: string; migrator: string };
    bucket?: string;
    kmsKeyArn?: string;
    backupPolicyArn?: string;
}

/** Per tenant, its passwords and connection strings. The whole object is a Pulumi secret. */
export interface TenantSecretsOutput {
    appPassword: string;
    readonlyPassword: string;
    migratorPassword: string;
    appConnectionString: string;
    readonlyConnectionString: string;
    migratorConnectionString: string;
}

/** Per server, its endpoint and the max_connections the program budgets with. */
export interface ServerOutput {
    kind: string;
    host: string;
    port: number;
    maxConnections: number;
    dedicatedTo?: string;
}

/** The three outputs as values: what `pulumi stack output --json --show-secrets` prints. */
export interface StackOutputValues {
    tenants: Record<string, TenantOutput>;
    tenantSecrets: Record<string, TenantSecretsOutput>;
    servers: Record<string, ServerOutput>;
}

/**
 * What readers of a deployed stack may rely on. Stacks deployed by older versions of the
 * program have no `sslmode` and no `servers`, and a reader only needs some of the secrets.
 */
export interface DeployedOutputs {
    readonly tenants: Record<
        string,
        Omit<TenantOutput, "sslmode" | "plan" | "state"> & { sslmode?: string; plan?: string; state?: string }
    >;
    readonly tenantSecrets: Record<string, Pick<TenantSecretsOutput, "migratorPassword"> & Partial<TenantSecretsOutput>>;
    readonly servers?: Record<string, Pick<ServerOutput, "maxConnections"> & Partial<ServerOutput>>;
}

/** Types shared by the migration catalog, the per-tenant runner and the fleet runner. */
import type { ClientBase } from "pg";

/** Provisioning input for a tenant's default data: its first company and admin user. */
export interface SeedInput {
    readonly companyName: string;
    readonly adminEmail: string;
    /** Hashed with scrypt before it reaches the database; never stored or logged in clear. */
    readonly adminPassword: string;
    /** ISO 4217 code of the company's base currency. Defaults to "USD". */
    readonly baseCurrency?: string;
}

/** What a code (TypeScript) migration receives. */
export interface MigrationContext {
    /**
     * The tenant's connection, inside the migration's transaction, acting as the owner role. Its
     * `query` refuses, unsent, transaction control and settings that change how SQL text is read
     * (guarded-client.ts): the runner commits the migration together with its bookkeeping row.
     */
    readonly client: ClientBase;
    readonly tenantId: string;
    /** Provisioning input for this tenant, when the caller supplied one. */
    readonly seed?: SeedInput;
}

/** A migration written in TypeScript, for steps that need logic (e.g. hashing a password). */
export interface CodeMigration {
    up(context: MigrationContext): Promise<void>;
    down?(context: MigrationContext): Promise<void>;
    /** Per-migration timeouts (PostgreSQL interval syntax, e.g. "5s"). */
    readonly lockTimeout?: string;
    readonly statementTimeout?: string;
}

/** A row of the tenant's migrations table. */
export interface AppliedMigration {
    readonly name: string;
    readonly checksum: string;
}

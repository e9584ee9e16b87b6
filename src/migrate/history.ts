/**
 * `migrate history`: each tenant's applied migrations as its `tenantdb.migrations` table records
 * them (name, checksum, when, how long, by whom). Reads only; one connection per tenant at a time.
 */
import { Client } from "pg";
import pLimit from "p-limit";
import { MIGRATIONS_SCHEMA, tenantNames } from "../naming";
import { quoteIdentifier as ident } from "../shared/sql";
import { TenantMigrationError } from "./errors";
import type { TenantTarget } from "./targets";

export interface AppliedRecord {
    readonly name: string;
    readonly checksum: string;
    /** ISO 8601. */
    readonly appliedAt: string;
    readonly durationMs: number;
    readonly appliedBy: string;
}

export interface TenantHistory {
    readonly tenantId: string;
    readonly server: string;
    readonly database: string;
    /** Oldest first; empty for a tenant never migrated. */
    readonly migrations: readonly AppliedRecord[];
    /** Why its history could not be read: names the tenant, server, step and fix. */
    readonly error?: string;
}

async function readHistory(target: TenantTarget, connectionTimeoutMs: number): Promise<AppliedRecord[]> {
    const client = new Client({
        host: target.host,
        port: target.port,
        database: target.database,
        user: target.user,
        password: target.password,
        ssl: target.ssl as never,
        connectionTimeoutMillis: connectionTimeoutMs,
        application_name: "tenantdb-migrate-history",
    });
    client.on("error", () => undefined);
    await client.connect();
    try {
        await client.query(`SET ROLE ${ident(target.ownerRole ?? tenantNames(target.tenantId).ownerRole)}`);
        const { rows } = await client.query<{ name: string; checksum: string; applied_at: Date; duration_ms: number; applied_by: string }>(
            `SELECT name, checksum, applied_at, duration_ms, applied_by FROM ${ident(MIGRATIONS_SCHEMA)}.migrations ORDER BY name`,
        );
        return rows.map((row) => ({
            name: row.name,
            checksum: row.checksum,
            appliedAt: row.applied_at.toISOString(),
            durationMs: row.duration_ms,
            appliedBy: row.applied_by,
        }));
    } catch (error) {
        if ((error as { code?: string }).code === "42P01") return []; // never migrated: no table yet
        throw error;
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** Every target's history, in the targets' order; a tenant that cannot be read carries its error. */
export async function fleetHistory(
    targets: readonly TenantTarget[],
    options: { concurrency?: number; connectionTimeoutMs?: number } = {},
): Promise<TenantHistory[]> {
    const limit = pLimit(options.concurrency ?? 16);
    return Promise.all(
        targets.map((target) =>
            limit(async (): Promise<TenantHistory> => {
                const identity = { tenantId: target.tenantId, server: target.server, database: target.database };
                try {
                    return { ...identity, migrations: await readHistory(target, options.connectionTimeoutMs ?? 10_000) };
                } catch (cause) {
                    const error = new TenantMigrationError(
                        {
                            ...identity,
                            host: target.host,
                            port: target.port,
                            user: target.user,
                            step: "read state",
                            secrets: [target.password],
                        },
                        cause,
                    );
                    return { ...identity, migrations: [], error: error.message };
                }
            }),
        ),
    );
}

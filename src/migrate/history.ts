/**
 * `migrate history`: each tenant's applied migrations as its `tenantdb.migrations` table records
 * them (name, checksum, when, how long, by whom). Reads only; one connection per tenant at a time.
 */
import type { ClientBase } from "pg";
import { TenantConnectionManager } from "../connections/manager";
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

async function readHistory(client: ClientBase, target: TenantTarget): Promise<AppliedRecord[]> {
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
        await client.query("RESET ROLE").catch(() => undefined);
    }
}

/**
 * Every target's history, in the targets' order; a tenant that cannot be read carries its error.
 * Connections come from the runner's connection manager: at most `concurrency` at once, one per
 * tenant, each closed once its tenant is read.
 */
export async function fleetHistory(
    targets: readonly TenantTarget[],
    options: { concurrency?: number; connectionTimeoutMs?: number } = {},
): Promise<TenantHistory[]> {
    const byId = new Map(targets.map((target) => [target.tenantId, target]));
    const manager = new TenantConnectionManager({
        resolve: (tenantId) => byId.get(tenantId)!,
        maxTotalConnections: options.concurrency ?? 16,
        poolSize: 1,
        connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
        acquireTimeoutMs: 600_000,
        applicationName: "tenantdb-migrate-history",
    });
    try {
        return await Promise.all(
            targets.map(async (target): Promise<TenantHistory> => {
                const identity = { tenantId: target.tenantId, server: target.server, database: target.database };
                try {
                    return { ...identity, migrations: await manager.withClient(target.tenantId, (client) => readHistory(client, target)) };
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
                } finally {
                    await manager.release(target.tenantId).catch(() => undefined);
                }
            }),
        );
    } finally {
        await manager.close();
    }
}

/**
 * The schema fingerprint: a digest of a tenant's applied migrations (names and checksums),
 * kept as the tenant database's comment, in the same transaction as each bookkeeping row.
 * Database comments live in a shared catalog (pg_shdescription), so ONE connection per
 * server reads the fingerprints of all its tenant databases: a tenant whose fingerprint
 * equals the local catalog's is up to date without connecting to it. Anything else (no
 * comment, a different one) falls back to reading the tenant's migrations table.
 */
import { createHash } from "node:crypto";
import { Client } from "pg";
import type { TenantTarget } from "./targets";
import type { AppliedMigration } from "./types";

const PREFIX = "tenantdb:migrations";

/** The comment text for a set of applied migrations (only names, a count and hex digits). */
export function fingerprintOf(applied: readonly AppliedMigration[]): string {
    const sorted = [...applied].sort((a, b) => (a.name < b.name ? -1 : 1));
    const digest = createHash("sha256");
    for (const m of sorted) digest.update(`${m.name}:${m.checksum}\n`);
    return `${PREFIX} version=${sorted.at(-1)?.name ?? "none"} count=${sorted.length} sha256=${digest.digest("hex")}`;
}

/**
 * SQL that sets the fingerprint as the database comment, when the current role owns the
 * database (COMMENT ON DATABASE needs ownership; without it the fast path just stays off).
 */
export function setFingerprintSql(fingerprint: string): string {
    if (!/^[a-z0-9:=_ ]+$/.test(fingerprint)) throw new Error(`invalid fingerprint ${fingerprint}`);
    return `DO $tenantdb$ BEGIN
    IF pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE') THEN
        EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), '${fingerprint}');
    END IF;
END $tenantdb$;`;
}

/**
 * Reads the fingerprints of the targets' databases, one connection per host:port (with the
 * credentials of the first target there that can connect). Servers that cannot be probed
 * are left out; their tenants take the per-tenant path, which reports the error properly.
 */
export async function readFingerprints(targets: readonly TenantTarget[], connectionTimeoutMs: number): Promise<Map<string, string | null>> {
    const byServer = new Map<string, TenantTarget[]>();
    for (const target of targets) {
        const key = `${target.host}:${target.port}`;
        byServer.set(key, [...(byServer.get(key) ?? []), target]);
    }
    const fingerprints = new Map<string, string | null>();
    await Promise.all(
        [...byServer.values()].map(async (group) => {
            for (const probe of group.slice(0, 3)) {
                const client = new Client({
                    host: probe.host,
                    port: probe.port,
                    database: probe.database,
                    user: probe.user,
                    password: probe.password,
                    ssl: probe.ssl as never,
                    connectionTimeoutMillis: connectionTimeoutMs,
                    application_name: "tenantdb-migrate",
                });
                client.on("error", () => undefined);
                try {
                    await client.connect();
                    const { rows } = await client.query<{ datname: string; comment: string | null }>(
                        "SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = ANY($1::text[])",
                        [group.map((t) => t.database)],
                    );
                    const comments = new Map(rows.map((r) => [r.datname, r.comment]));
                    for (const t of group) fingerprints.set(t.tenantId, comments.get(t.database) ?? null);
                    return;
                } catch {
                    // This tenant's credentials or database are bad: try another, then give up.
                } finally {
                    await client.end().catch(() => undefined);
                }
            }
        }),
    );
    return fingerprints;
}

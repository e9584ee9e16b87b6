/**
 * The fleet runner: every selected tenant to the same version, in parallel within a global
 * bound and a per-server bound (one connection per tenant), one tenant's failure never
 * stopping the others, optional canary waves, and a per-tenant report.
 */
import pLimit from "p-limit";
import { quoteIdentifier as ident } from "../shared/sql";
import { TenantConnectionManager } from "../connections/manager";
import { tenantNames } from "../naming";
import { Catalog, loadCatalog } from "./catalog";
import { TenantMigrationError } from "./errors";
import { fingerprintOf, readFingerprints } from "./fingerprint";
import { connectAsBusyLock } from "./lock";
import type { TenantTarget } from "./targets";
import { Mode, Outcome, RunCursor, runTenant, TenantResult } from "./tenant";
import type { SeedInput } from "./types";

export type { Mode, Outcome, TenantResult } from "./tenant";

export interface CanaryOptions {
    /** Tenants migrated first, as wave 0. */
    readonly tenants: readonly string[];
    /** Size of each following wave. */
    readonly waveSize: number;
    /** The run stops (remaining tenants skipped) once more tenants than this have failed. */
    readonly maxFailures: number;
}

export type ProgressEvent =
    | { readonly kind: "start"; readonly total: number }
    | { readonly kind: "wave"; readonly index: number; readonly tenants: readonly string[] }
    | { readonly kind: "tenant"; readonly result: TenantResult; readonly done: number; readonly total: number }
    | { readonly kind: "stopped"; readonly reason: string };

export interface FleetOptions {
    readonly mode: Mode;
    /** Target version (migration name); for down, the version to end at ("0": none). */
    readonly to?: string;
    /** Plan only: report what would be applied, change nothing, take no lock. */
    readonly dryRun?: boolean;
    /** Only these tenant ids (all must be in the targets). */
    readonly only?: readonly string[];
    readonly canary?: CanaryOptions;
    /** Tenants migrated at once, over all servers. Defaults to 16. */
    readonly concurrency?: number;
    /** Tenants migrated at once on one server; lowered to a server's maxConnections. Defaults to 8. */
    readonly perServerConcurrency?: number;
    readonly onProgress?: (event: ProgressEvent) => void;
    /** Provisioning input per tenant id, for the default-data migration. */
    readonly seed?: Readonly<Record<string, SeedInput>>;
    /** Defaults to the project's `migrations/` folder. */
    readonly catalog?: Catalog;
    /** When another runner holds a tenant's lock. Defaults to waiting up to 30 s. */
    readonly lock?: { readonly onBusy: "wait" | "skip"; readonly timeoutMs: number };
    /** Connecting to a tenant gives up after this long. Defaults to 10 000 ms. */
    readonly connectionTimeoutMs?: number;
    /**
     * Connect to every tenant even when its schema fingerprint (read with one connection
     * per server) shows it up to date. Defaults to false.
     */
    readonly deep?: boolean;
}

export interface FleetReport {
    readonly mode: Mode;
    readonly dryRun: boolean;
    readonly to?: string;
    readonly startedAt: string;
    readonly durationMs: number;
    readonly counts: Record<Outcome, number>;
    /** Set when canary waves stopped the run early. */
    readonly stopped?: string;
    /** One entry per selected tenant, in the order of the targets. */
    readonly tenants: readonly TenantResult[];
}

/** True when the run needs attention: a tenant failed, or (status) has checksum drift. */
export function fleetFailed(report: FleetReport): boolean {
    return report.counts.failed > 0 || report.counts.drift > 0 || report.stopped !== undefined;
}

function select(targets: readonly TenantTarget[], options: FleetOptions): TenantTarget[] {
    const known = new Set(targets.map((t) => t.tenantId));
    const unknown = [...(options.only ?? []), ...(options.canary?.tenants ?? [])].filter((id) => !known.has(id));
    if (unknown.length) throw new Error(`--only/--canary name tenants that are not in the targets: ${[...new Set(unknown)].join(", ")}`);
    const ids = new Set(targets.map((t) => t.tenantId));
    if (ids.size !== targets.length) throw new Error("the targets list a tenant twice");
    return options.only ? targets.filter((t) => options.only!.includes(t.tenantId)) : [...targets];
}

function validateOptions(options: FleetOptions, catalog: Catalog): void {
    if (options.to !== undefined) {
        const names = catalog.migrations.map((m) => m.name);
        const allowed = options.mode === "down" ? [...names, "0"] : names;
        if (!allowed.includes(options.to))
            throw new Error(`--to ${options.to} names no migration in ${catalog.directory} (known: ${names.join(", ")})`);
    }
    for (const [name, value] of [
        ["concurrency", options.concurrency],
        ["perServerConcurrency", options.perServerConcurrency],
    ] as const) {
        if (value !== undefined && !(Number.isInteger(value) && value >= 1))
            throw new Error(`${name} must be a whole number of at least 1, got ${value}`);
    }
    const canary = options.canary;
    if (canary && !(Number.isInteger(canary.waveSize) && canary.waveSize >= 1))
        throw new Error(`canary waveSize must be at least 1, got ${canary.waveSize}`);
    if (canary && !(Number.isInteger(canary.maxFailures) && canary.maxFailures >= 0))
        throw new Error(`canary maxFailures must be 0 or more, got ${canary.maxFailures}`);
}

/** Canary tenants first, then the rest in waves; one wave holding everyone without canaries. */
export function planWaves(tenantIds: readonly string[], canary?: CanaryOptions): string[][] {
    if (!canary) return tenantIds.length ? [[...tenantIds]] : [];
    const first = tenantIds.filter((id) => canary.tenants.includes(id));
    const rest = tenantIds.filter((id) => !canary.tenants.includes(id));
    const waves = first.length ? [first] : [];
    for (let i = 0; i < rest.length; i += canary.waveSize) waves.push(rest.slice(i, i + canary.waveSize));
    return waves;
}

/** A tenant this run skipped before reading its state: its version is unknown. */
function notStarted(message: string): Omit<TenantResult, "tenantId" | "server" | "database" | "durationMs"> {
    return { outcome: "skipped", from: null, to: null, applied: [], reverted: [], pending: [], drift: [], message };
}

const emptyCounts = (): Record<Outcome, number> => ({ ok: 0, "up-to-date": 0, pending: 0, drift: 0, skipped: 0, failed: 0 });

export async function runFleet(targets: readonly TenantTarget[], options: FleetOptions): Promise<FleetReport> {
    const started = Date.now();
    const catalog = options.catalog ?? loadCatalog();
    validateOptions(options, catalog);
    const selected = select(targets, options);
    const byId = new Map(selected.map((t) => [t.tenantId, t]));
    const concurrency = options.concurrency ?? 16;

    // Per server: the configured bound, lowered to the server's connection budget.
    const serverLimits = new Map<string, ReturnType<typeof pLimit>>();
    for (const target of selected) {
        const budget = Math.min(
            options.perServerConcurrency ?? 8,
            ...selected.filter((t) => t.server === target.server).map((t) => t.maxConnections ?? Infinity),
        );
        if (!serverLimits.has(target.server)) serverLimits.set(target.server, pLimit(Math.max(1, budget)));
    }
    const globalLimit = pLimit(concurrency);
    const manager = new TenantConnectionManager({
        resolve: (tenantId) => byId.get(tenantId)!,
        maxTotalConnections: concurrency,
        poolSize: 1,
        idleTimeoutMs: 5_000,
        connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
        acquireTimeoutMs: 600_000,
        applicationName: "tenantdb-migrate",
        // Objects a migration creates must belong to the owner role, whatever the login role's defaults.
        onConnect: async (client, tenantId) => {
            const target = byId.get(tenantId)!;
            // client_connection_check_interval: if this process dies mid-migration, the server
            // notices within seconds, rolls the transaction back and frees the tenant's lock.
            await client.query(
                `SET ROLE ${ident(target.ownerRole ?? tenantNames(tenantId).ownerRole)}; SET client_connection_check_interval = '2s'`,
            );
        },
    });

    const results = new Map<string, TenantResult>();
    const total = selected.length;
    options.onProgress?.({ kind: "start", total });

    // The no-op fast path: tenants whose fingerprint equals the local catalog's (up to the
    // target) are up to date; reading it costs one connection per server, not per tenant.
    let stored = new Map<string, string | null>();
    if ((options.mode === "up" || options.mode === "status") && selected.length > 0) {
        stored = await readFingerprints(selected, options.connectionTimeoutMs ?? 10_000);
        if (!options.deep) {
            const wanted = catalog.migrations.filter((m) => options.to === undefined || m.name <= options.to);
            const expected = fingerprintOf(wanted);
            const version = wanted.at(-1)?.name ?? null;
            for (const target of selected) {
                if (stored.get(target.tenantId) !== expected) continue;
                const result: TenantResult = {
                    tenantId: target.tenantId,
                    server: target.server,
                    database: target.database,
                    outcome: "up-to-date",
                    from: version,
                    to: version,
                    applied: [],
                    reverted: [],
                    pending: [],
                    drift: [],
                    durationMs: 0,
                    via: "fingerprint",
                };
                results.set(target.tenantId, result);
                options.onProgress?.({ kind: "tenant", result, done: results.size, total });
            }
        }
    }

    const runOne = async (target: TenantTarget): Promise<TenantResult> => {
        const begun = Date.now();
        const cursor: RunCursor = { step: "connect" };
        const identity = { tenantId: target.tenantId, server: target.server, database: target.database };
        const lock = options.lock ?? { onBusy: "wait", timeoutMs: 30_000 };
        try {
            const run = await connectAsBusyLock(
                () =>
                    manager.withClient(target.tenantId, (client) =>
                        runTenant(
                            client,
                            catalog,
                            {
                                mode: options.mode,
                                to: options.to,
                                dryRun: options.dryRun,
                                seed: options.seed?.[target.tenantId],
                                lock,
                                storedFingerprint: stored.get(target.tenantId),
                            },
                            target.tenantId,
                            cursor,
                        ),
                    ),
                target.user,
                lock,
            );
            if ("skipped" in run) {
                return { ...identity, ...notStarted(run.skipped), durationMs: Date.now() - begun };
            }
            return { ...identity, ...run.connected, durationMs: Date.now() - begun };
        } catch (cause) {
            const error = new TenantMigrationError(
                {
                    ...identity,
                    host: target.host,
                    port: target.port,
                    user: target.user,
                    step: cursor.step,
                    secrets: [
                        target.password,
                        ...Object.values(options.seed?.[target.tenantId] ?? {}).filter(
                            (v): v is string => typeof v === "string" && v.length >= 8,
                        ),
                    ],
                    lockTimeout: cursor.migration?.lockTimeout,
                    statementTimeout: cursor.migration?.statementTimeout,
                    file: cursor.migration?.file,
                    line: cursor.line,
                    sql: cursor.sql,
                    sqlOffset: cursor.sqlOffset,
                },
                cause,
            );
            const from = cursor.from ?? null;
            return {
                ...identity,
                outcome: "failed",
                from,
                to: cursor.reached ?? from,
                applied: cursor.applied ?? [],
                reverted: cursor.reverted ?? [],
                pending: [],
                drift: [],
                durationMs: Date.now() - begun,
                error: error.message,
            };
        } finally {
            await manager.release(target.tenantId).catch(() => undefined);
        }
    };

    let stopped: string | undefined;
    try {
        const remaining = selected.map((t) => t.tenantId).filter((id) => !results.has(id));
        const waves = options.mode === "status" || options.dryRun ? planWaves(remaining) : planWaves(remaining, options.canary);
        let failures = 0;
        for (const [index, wave] of waves.entries()) {
            if (stopped) {
                for (const id of wave) {
                    const t = byId.get(id)!;
                    results.set(id, {
                        tenantId: id,
                        server: t.server,
                        database: t.database,
                        ...notStarted(`not started: ${stopped}`),
                        durationMs: 0,
                    });
                }
                continue;
            }
            if (waves.length > 1) options.onProgress?.({ kind: "wave", index, tenants: wave });
            await Promise.all(
                wave.map((id) => {
                    const target = byId.get(id)!;
                    return serverLimits.get(target.server)!(() =>
                        globalLimit(async () => {
                            const result = await runOne(target);
                            results.set(id, result);
                            if (result.outcome === "failed") failures++;
                            options.onProgress?.({ kind: "tenant", result, done: results.size, total });
                        }),
                    );
                }),
            );
            if (options.canary && failures > options.canary.maxFailures && index < waves.length - 1) {
                stopped = `${failures} tenant(s) failed by wave ${index}${index === 0 && waves[0].some((id) => options.canary!.tenants.includes(id)) ? " (canaries)" : ""}, more than the ${options.canary.maxFailures} allowed`;
                options.onProgress?.({ kind: "stopped", reason: stopped });
            }
        }
    } finally {
        await manager.close();
    }

    const tenants = selected.map((t) => results.get(t.tenantId)!);
    const counts = emptyCounts();
    for (const result of tenants) counts[result.outcome]++;
    return {
        mode: options.mode,
        dryRun: options.dryRun ?? false,
        to: options.to,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        counts,
        stopped,
        tenants,
    };
}

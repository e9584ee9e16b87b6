/**
 * Benchmark of the fleet migration runner on one local PostgreSQL server (embedded, no
 * Docker): (a) the full baseline migration of N fresh tenants, the seed's sequential loop
 * against the runner, and the ratio; (b) a run where nothing is pending, for N tenants and
 * extrapolated per 1,000. Both measured in this run, on the same server.
 *
 *   npm run bench:migrate                   # 200 tenants
 *   BENCH_TENANTS=50 npm run bench:migrate  # quicker
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { quoteIdentifier as ident } from "../src/shared/sql";
import { startLocalServer } from "../src/local/embedded-server";
import { loadCatalog } from "../src/migrate/catalog";
import { fleetFailed, runFleet } from "../src/migrate/fleet";
import { summary } from "../src/migrate/report";
import type { TenantTarget } from "../src/migrate/targets";
import { RunCursor, runTenant } from "../src/migrate/tenant";
import { tenantNames } from "../src/naming";
import { createTenants, seedFor, targetOf } from "../test/support/migration-targets";

const TENANTS = Number(process.env.BENCH_TENANTS ?? 200);
const seconds = (ms: number) => (ms / 1000).toFixed(2);

/** The seed's `migrate_all_tenants`: one tenant after the other, a fresh connection each. */
async function sequentialLoop(targets: readonly TenantTarget[], seed: ReturnType<typeof seedFor>): Promise<number> {
    const catalog = loadCatalog();
    let failed = 0;
    for (const target of targets) {
        const client = new Client({
            host: target.host,
            port: target.port,
            database: target.database,
            user: target.user,
            password: target.password,
        });
        try {
            await client.connect();
            await client.query(`SET ROLE ${ident(tenantNames(target.tenantId).ownerRole)}`);
            const cursor: RunCursor = { step: "connect" };
            await runTenant(
                client,
                catalog,
                { mode: "up", seed: seed[target.tenantId], lock: { onBusy: "wait", timeoutMs: 30_000 } },
                target.tenantId,
                cursor,
            );
        } catch (error) {
            failed++;
            console.error(`sequential: ${target.tenantId} failed: ${(error as Error).message}`);
        } finally {
            await client.end();
        }
    }
    return failed;
}

async function main(): Promise<void> {
    const root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-bench-"));
    const server = await startLocalServer({ dataDir: path.join(root, "pgdata"), settings: { max_connections: 200 } });
    try {
        console.log(
            `tenantdb migration benchmark: ${TENANTS} tenant databases per side on one local PostgreSQL 15, ${os.cpus().length} CPU(s)`,
        );
        const setupStart = Date.now();
        const sequentialIds = Array.from({ length: TENANTS }, (_, i) => `bench_seq_${i}`);
        const runnerIds = Array.from({ length: TENANTS }, (_, i) => `bench_run_${i}`);
        const sequentialTargets = (await createTenants(server, sequentialIds)).map((f) => targetOf(server, f));
        const runnerTargets = (await createTenants(server, runnerIds)).map((f) => targetOf(server, f));
        console.log(`setup: created ${2 * TENANTS} tenant databases in ${seconds(Date.now() - setupStart)} s (not measured)`);

        const seed = { ...seedFor(sequentialIds), ...seedFor(runnerIds) };
        let start = Date.now();
        const sequentialFailed = await sequentialLoop(sequentialTargets, seed);
        const sequentialMs = Date.now() - start;
        console.log(`(a) full baseline, seed-style sequential loop: ${seconds(sequentialMs)} s (${sequentialFailed} failed)`);

        start = Date.now();
        const report = await runFleet(runnerTargets, { mode: "up", seed });
        const runnerMs = Date.now() - start;
        if (fleetFailed(report)) throw new Error(`runner failed: ${summary(report)}`);
        const ratio = sequentialMs / runnerMs;
        console.log(`(a) full baseline, fleet runner (concurrency 16, 8 per server): ${seconds(runnerMs)} s  [${summary(report)}]`);
        console.log(`(a) ratio sequential / runner: ${ratio.toFixed(2)}x (target >= 3x: ${ratio >= 3 ? "met" : "NOT met"})`);

        start = Date.now();
        const noop = await runFleet(runnerTargets, { mode: "up", seed });
        const noopMs = Date.now() - start;
        if (noop.counts["up-to-date"] !== TENANTS) throw new Error(`no-op run was not a no-op: ${summary(noop)}`);
        start = Date.now();
        const status = await runFleet(runnerTargets, { mode: "status" });
        const statusMs = Date.now() - start;
        if (status.counts["up-to-date"] !== TENANTS) throw new Error(`status found work: ${summary(status)}`);
        start = Date.now();
        const deep = await runFleet(runnerTargets, { mode: "up", seed, deep: true });
        const deepMs = Date.now() - start;
        if (deep.counts["up-to-date"] !== TENANTS) throw new Error(`deep no-op run found work: ${summary(deep)}`);
        const per1000 = (noopMs / TENANTS) * 1000;
        console.log(
            `(b) nothing pending, migrate up (schema fingerprints, one connection per server): ${seconds(noopMs)} s for ${TENANTS} tenants, ${seconds(per1000)} s per 1,000 (target < 15 s: ${per1000 < 15_000 ? "met" : "NOT met"})`,
        );
        console.log(
            `(b) nothing pending, status:     ${seconds(statusMs)} s for ${TENANTS} tenants, ${seconds((statusMs / TENANTS) * 1000)} s per 1,000`,
        );
        console.log(
            `(b) nothing pending, up --deep (one connection + one query per tenant, no fingerprint): ${seconds(deepMs)} s for ${TENANTS}, ${seconds((deepMs / TENANTS) * 1000)} s per 1,000`,
        );
        if (ratio < 3 || per1000 >= 15_000) process.exitCode = 1;
    } finally {
        await server.stop();
        rmSync(root, { recursive: true, force: true });
    }
}

main().catch((error: unknown) => {
    console.error(`bench:migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
});

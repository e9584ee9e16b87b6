/**
 * npm run bench:serve: the HTTP service against the same calls made directly through the
 * control API client, on a real-engine stack of 25 deployed and migrated tenants (BENCH_TENANTS):
 * - status reads: GET /v1/tenants and GET /v1/tenants/{id} over HTTP (8 at a time) against
 *   TenantdbClient.status and the same tenant view composed in-process (TenantdbClient.show,
 *   the schema version read from the tenant database, the cost model), in requests per second;
 * - provisioning: POST /v1/tenants followed over server-sent events until the job succeeded,
 *   against TenantdbClient.provision, in seconds (one new tenant each, on the same stack).
 * Building the stack is not measured. The service runs in this process, on the same server; the
 * engine runs with the test projects' settings (test/support/engine.ts: no checkpoints, no
 * type-check), for both sides alike.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { TenantdbClient } from "../src/control";
import { startLocalServer } from "../src/local/embedded-server";
import { migrateControlDatabase } from "../src/serve/control-db";
import { DeployedOutputsCache } from "../src/serve/deployed-cache";
import { startService } from "../src/serve/service";
import { ServeTarget } from "../src/serve/target";
import { CostReports } from "../src/serve/tenant-cost";
import { tenantView } from "../src/serve/tenant-view";
import { createToken } from "../src/serve/tokens";
import { declaredTenantsConfig } from "../test/support/declared-tenants";
import { ENGINE_MISSING, EngineProject, locateEngine, stackConfigOf } from "../test/support/engine";
import { Pool } from "pg";

const N = Number(process.env.BENCH_TENANTS ?? 25);
const READS = Number(process.env.BENCH_READS ?? 400);
const CONCURRENCY = 8;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `srvb_${i}`);
const seed = (id: string) => ({
    companyName: `${id} Ltd`,
    adminEmail: `admin@${id.replace(/_/g, "-")}.test`,
    adminPassword: "correct horse battery staple",
});

async function seconds<T>(run: () => Promise<T>): Promise<[number, T]> {
    const started = process.hrtime.bigint();
    const result = await run();
    return [Number(process.hrtime.bigint() - started) / 1e9, result];
}

/** `count` calls of `call`, `CONCURRENCY` at a time; returns calls per second. */
async function throughput(count: number, call: (i: number) => Promise<unknown>): Promise<number> {
    let next = 0;
    const [elapsed] = await seconds(() =>
        Promise.all(
            Array.from({ length: CONCURRENCY }, async () => {
                while (next < count) await call(next++);
            }),
        ),
    );
    return count / elapsed;
}

async function main() {
    const engine = locateEngine();
    if (!engine) throw new Error(ENGINE_MISSING);
    console.log(
        `bench:serve on ${process.version}, ${os.cpus().length} cores, engine from ${engine.source}, ${N} tenants, ${READS} reads each\n`,
    );
    const root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-bench-serve-"));
    const server = await startLocalServer({ dataDir: path.join(root, "pgdata"), settings: { max_connections: 1000 } });
    const project = EngineProject.create(engine);
    let close: (() => Promise<void>) | undefined;
    try {
        const values = declaredTenantsConfig(
            server,
            ids(N).map((id) => ({ id, connectionLimit: 10 })),
        );
        const servers = values["tenantdb:servers"] as Record<string, Record<string, unknown>>;
        servers.local = { ...servers.local, capacity: 200, maxConnections: 1000 };
        values["tenantdb:cell"] = { capacity: 200 };
        await project.stack("bench", stackConfigOf(values));
        const options = { workDir: project.dir, actor: "bench", env: project.env, pulumiBinDir: engine.binDir };
        const client = new TenantdbClient(options);
        const [setup] = await seconds(() => client.deploy("bench", { seed: Object.fromEntries(ids(N).map((id) => [id, seed(id)])) }));
        console.log(`setup (not measured): deploy and migrate ${N} tenants, ${setup.toFixed(1)} s`);

        const admin = new Client({
            host: server.host,
            port: server.port,
            user: server.user,
            password: server.password,
            database: "postgres",
        });
        await admin.connect();
        await admin.query("CREATE DATABASE tenantdb_control");
        await admin.end();
        const url = `postgres://${server.user}:${encodeURIComponent(server.password)}@${server.host}:${server.port}/tenantdb_control`;
        const pool = new Pool({ connectionString: url });
        await migrateControlDatabase(pool);
        const token = await createToken(pool, "bench", ["read", "provision"]);
        await pool.end();
        const service = await startService({
            ...options,
            scope: { stack: "bench" },
            host: "127.0.0.1",
            port: 0,
            controlDatabaseUrl: url,
            logger: false,
        });
        close = service.close;
        const headers = { authorization: `Bearer ${token}` };
        const get = async (route: string) => {
            const response = await fetch(`${service.url}${route}`, { headers });
            if (response.status !== 200) throw new Error(`GET ${route}: ${response.status} ${await response.text()}`);
            return response.json();
        };

        // The same composition the service answers GET /v1/tenants/{id} with, in-process, with its own caches.
        const sources = {
            target: new ServeTarget({ stack: "bench" }, options),
            deployed: new DeployedOutputsCache(options),
            costs: new CostReports(project.dir),
        };
        // Warm both sides' caches (deployed outputs, cost model) before measuring.
        await get(`/v1/tenants/${ids(N)[0]}`);
        await tenantView(sources, "bench", ids(N)[0]);

        const tenantAt = (i: number) => ids(N)[i % N];
        const rows: [string, number, string, number][] = [
            [
                "GET /v1/tenants",
                await throughput(READS, () => get("/v1/tenants")),
                "client.status",
                await throughput(READS, async () => client.status("bench")),
            ],
            [
                "GET /v1/tenants/{id}",
                await throughput(READS, (i) => get(`/v1/tenants/${tenantAt(i)}`)),
                "the same view in-process",
                await throughput(READS, (i) => tenantView(sources, "bench", tenantAt(i))),
            ],
            [
                "GET /v1/tenants/{id}",
                await throughput(READS, (i) => get(`/v1/tenants/${tenantAt(i)}`)),
                "client.show alone",
                await throughput(READS, async (i) => client.show("bench", tenantAt(i))),
            ],
        ];
        console.log("\nstatus reads (requests per second, 8 at a time):");
        for (const [http, httpRate, direct, directRate] of rows)
            console.log(
                `  ${http.padEnd(22)} ${httpRate.toFixed(0).padStart(6)} req/s   ${direct.padEnd(26)} ${directRate.toFixed(0).padStart(7)} calls/s   ratio direct/HTTP ${(directRate / httpRate).toFixed(1)}`,
            );

        const viaHttp = `srvb_${N}`;
        const [httpSeconds] = await seconds(async () => {
            const response = await fetch(`${service.url}/v1/tenants`, {
                method: "POST",
                headers: { ...headers, "content-type": "application/json", "idempotency-key": `bench-${viaHttp}` },
                body: JSON.stringify({ id: viaHttp, connectionLimit: 10, seed: seed(viaHttp) }),
            });
            const job = (await response.json()) as { id: string };
            // The event stream ends with the job's final state.
            const events = await (await fetch(`${service.url}/v1/jobs/${job.id}/events`, { headers })).text();
            if (!events.includes('"state":"succeeded"')) throw new Error(`the job did not succeed:\n${events}`);
        });
        const direct = `srvb_${N + 1}`;
        const [directSeconds] = await seconds(() => client.provision("bench", { id: direct, connectionLimit: 10 }, { seed: seed(direct) }));
        console.log(`\nprovisioning tenant ${N + 1} and ${N + 2} (to a ready, migrated and seeded tenant):`);
        console.log(`  POST /v1/tenants, followed over SSE until succeeded: ${httpSeconds.toFixed(2)} s`);
        console.log(`  client.provision:                                   ${directSeconds.toFixed(2)} s`);
        console.log(`  ratio HTTP / direct: ${(httpSeconds / directSeconds).toFixed(2)}`);
    } finally {
        await close?.();
        project.remove();
        await server.stop();
        rmSync(root, { recursive: true, force: true });
    }
}

if (require.main === module)
    main().catch((error) => {
        console.error(error);
        process.exit(1);
    });

/**
 * npm run bench:provision: adding one tenant to an N-tenant stack (default 50; BENCH_TENANTS=25)
 * on the real engine, as CI and the portal run it (ts-node type-check and checkpoints on):
 * - a full `pulumi up` after a config edit (every resource of the stack diffed);
 * - the `up` targeted at the new tenant's resources that TenantdbClient.provision runs;
 * - the whole TenantdbClient.provision (edit under the lease, targeted up, migrations, seed).
 * Prints seconds and the ratio full / targeted. Building the N tenants first is not measured,
 * so it skips checkpoints to save time.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TenantdbClient } from "../src/control";
import { StackFileEdit } from "../src/control/stack-file";
import { tenantUrns } from "../src/control/targets";
import { startLocalServer } from "../src/local/embedded-server";
import { declaredTenantsConfig } from "../test/support/declared-tenants";
import { ENGINE_MISSING, EngineProject, locateEngine, stackConfigOf } from "../test/support/engine";

const N = Number(process.env.BENCH_TENANTS ?? 50);
const tenants = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `prov_${i}`, connectionLimit: 10 }));

async function seconds<T>(run: () => Promise<T>): Promise<[number, T]> {
    const started = process.hrtime.bigint();
    const result = await run();
    return [Number(process.hrtime.bigint() - started) / 1e9, result];
}

async function main() {
    const engine = locateEngine();
    if (!engine) throw new Error(ENGINE_MISSING);
    console.log(`bench:provision on ${process.version}, ${os.cpus().length} cores, engine from ${engine.source}, ${N} tenants\n`);
    const root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-bench-provision-"));
    const server = await startLocalServer({ dataDir: path.join(root, "pgdata"), settings: { max_connections: 1000 } });
    const project = EngineProject.create(engine);
    try {
        const config = (n: number) => {
            const values = declaredTenantsConfig(server, tenants(n));
            // Room for the tenants this adds, on the server and in the cell.
            const servers = values["tenantdb:servers"] as Record<string, Record<string, unknown>>;
            servers.local = { ...servers.local, capacity: 200, maxConnections: 1000 };
            values["tenantdb:cell"] = { capacity: 200 };
            return stackConfigOf(values);
        };
        const stack = await project.stack("bench", config(N));
        // EngineProject's defaults (test/support/engine.ts): no checkpoints, no type-check.
        const [setup] = await seconds(() => stack.up());
        console.log(`setup (not measured): first up of ${N} tenants without checkpoints, ${setup.toFixed(1)} s`);
        // As production runs it from here on.
        Object.assign(project.env, { PULUMI_SKIP_CHECKPOINTS: "false", PULUMI_NODEJS_TRANSPILE_ONLY: "false" });
        const production = await project.stack("bench", { plain: {} });

        project.writeConfig("bench", config(N + 1).plain);
        const [full, fullResult] = await seconds(() => production.up());
        console.log(
            `\nadding tenant ${N + 1} of ${N + 1}, full up:      ${full.toFixed(1)} s (${JSON.stringify(fullResult.summary.resourceChanges)})`,
        );

        project.writeConfig("bench", config(N + 2).plain);
        const file = path.join(project.dir, "Pulumi.bench.yaml");
        const added = new StackFileEdit(file).model().tenants.at(-1)!;
        const [urnSeconds, urns] = await seconds(() => tenantUrns(readFileSync(file, "utf8"), file, "bench", [added]));
        const [targeted, targetedResult] = await seconds(() => production.up({ target: urns }));
        console.log(
            `adding tenant ${N + 2} of ${N + 2}, targeted up:  ${targeted.toFixed(1)} s (${JSON.stringify(targetedResult.summary.resourceChanges)}), ` +
                `plus ${urnSeconds.toFixed(1)} s to compute its ${urns.length} URNs offline`,
        );
        console.log(`ratio full / targeted: ${(full / (targeted + urnSeconds)).toFixed(2)}`);

        const client = new TenantdbClient({ workDir: project.dir, actor: "bench", env: project.env, pulumiBinDir: engine.binDir });
        const seed = { companyName: "Bench Ltd", adminEmail: "admin@bench.test", adminPassword: "correct horse battery staple" };
        const [provision] = await seconds(() => client.provision("bench", { id: `prov_${N + 2}`, connectionLimit: 10 }, { seed }));

        console.log(`TenantdbClient.provision of tenant ${N + 3} (lease, edit, targeted up, migrations, seed): ${provision.toFixed(1)} s`);
    } finally {
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

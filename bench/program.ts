/**
 * npm run bench:program: how long and how much memory evaluating the program takes under the
 * SDK's mock runtime for 50, 200 and 500 tenants, next to two baselines run the same way:
 * - flat: the same resources with the same inputs, registered in a plain loop (no config
 *   validation, components, dependencies or outputs): the ratio is what tenantdb's own code adds;
 * - bare: the same number of resources with a single input: what the SDK costs per resource.
 * Each case runs in its own child process so its peak RSS is its own.
 *
 * Targets (issue 2): ratio at most 1.2; a 50-tenant stack under 10 s.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { evaluateProgramOffline } from "../src/program/offline";

const SIZES = [50, 200, 500];
const graphFile = process.argv[4] ?? path.join(os.tmpdir(), `tenantdb-bench-graph-${process.pid}.json`);

/** A fleet of `tenants` standard tenants, 50 per shared RDS server, each with its backup bucket. */
export function fleetConfig(tenants: number): Record<string, unknown> {
    const servers: Record<string, unknown> = {};
    for (let i = 0; i < Math.ceil(tenants / 50); i++) servers[`shared-${i + 1}`] = { kind: "rds", instanceClass: "db.r6g.4xlarge" };
    return {
        "tenantdb:servers": servers,
        "tenantdb:tenants": Array.from({ length: tenants }, (_, i) => ({ id: `tenant_${i}`, server: `shared-${Math.floor(i / 50) + 1}` })),
    };
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const unwrapSecrets = (value: any): any =>
    Array.isArray(value) ? value.map(unwrapSecrets)
        : value && typeof value === "object" ? (SECRET_SIG in value ? value.value : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)])))
            : value;

async function runProgram(tenants: number, graphFile: string) {
    const started = process.hrtime.bigint();
    const evaluation = await evaluateProgramOffline(fleetConfig(tenants), { stack: "bench" });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    writeFileSync(graphFile, JSON.stringify(evaluation.resources.map((r) => ({ type: r.type, name: r.name, inputs: unwrapSecrets(r.inputs) }))));
    return { seconds, resources: evaluation.resources.length };
}

/** Registers `resources` in a plain loop inside a root stack, with mocks that only count. */
async function registerFlat(resources: { type: string; name: string; inputs: Record<string, unknown> }[]) {
    const started = process.hrtime.bigint();
    let count = 0;
    await pulumi.runtime.setMocks({
        newResource: (args) => { count++; return { id: `${args.name}-id`, state: args.inputs }; },
        call: () => { throw new Error("no invokes in the baseline"); },
    }, "tenantdb", "bench", false);
    await pulumi.runtime.runInPulumiStack(async () => {
        for (const resource of resources) new (pulumi.CustomResource as any)(resource.type, resource.name, resource.inputs);
        return {};
    });
    await (pulumi.runtime as any).waitForRPCs?.();
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, resources: count };
}

/** The program's own resources and inputs, without config, components, dependencies or outputs. */
function runFlat(graphFile: string) {
    const graph: { type: string; name: string; inputs: Record<string, unknown> }[] = JSON.parse(readFileSync(graphFile, "utf8"));
    // Provider resources need the engine's provider registration; register them as plain resources.
    return registerFlat(graph.map((r) => (r.type.startsWith("pulumi:providers:") ? { ...r, type: "bench:index:Provider" } : r)));
}

/** As many resources with a single input: the SDK's own cost per resource. */
function runBare(resources: number) {
    return registerFlat(Array.from({ length: resources }, (_, i) => ({ type: "bench:index:Bare", name: `bare-${i}`, inputs: { value: i } })));
}

function child(kind: string, n: number | string): { seconds: number; resources: number; peakMiB: number } {
    const run = spawnSync(process.execPath, [...process.execArgv, __filename, kind, String(n), graphFile], { encoding: "utf8", maxBuffer: 1 << 24 });
    const last = run.stdout.trim().split("\n").pop();
    if (run.status !== 0 || !last) throw new Error(`${kind} ${n} failed:\n${run.stderr}`);
    return JSON.parse(last);
}

async function main() {
    const [kind, n, file] = process.argv.slice(2);
    if (kind) {
        const result = kind === "program" ? await runProgram(Number(n), file) : kind === "flat" ? await runFlat(file) : await runBare(Number(n));
        console.log(JSON.stringify({ ...result, peakMiB: process.resourceUsage().maxRSS / 1024 }));
        return;
    }
    console.log(`bench:program on ${process.version}, ${require("node:os").cpus().length} cores\n`);
    const sizes = process.env.BENCH_TENANTS ? process.env.BENCH_TENANTS.split(",").map(Number) : SIZES;
    console.log("tenants  resources  program s  flat s  bare s  ratio/flat  ratio/bare  s/tenant  program MiB  flat MiB  MiB/tenant  mem ratio/flat");
    for (const tenants of sizes) {
        const program = child("program", tenants);
        const flat = child("flat", 0);
        const bare = child("bare", program.resources);
        console.log([
            String(tenants).padStart(7), String(program.resources).padStart(10), program.seconds.toFixed(2).padStart(10),
            flat.seconds.toFixed(2).padStart(7), bare.seconds.toFixed(2).padStart(7),
            (program.seconds / flat.seconds).toFixed(2).padStart(11), (program.seconds / bare.seconds).toFixed(2).padStart(11),
            (program.seconds / tenants).toFixed(3).padStart(9), program.peakMiB.toFixed(0).padStart(12), flat.peakMiB.toFixed(0).padStart(9),
            (program.peakMiB / tenants).toFixed(1).padStart(11), (program.peakMiB / flat.peakMiB).toFixed(2).padStart(15),
        ].join(" "));
    }
    rmSync(graphFile, { force: true });
    console.log("\nTargets: ratio/flat (what tenantdb's code adds) <= 1.2; 50 tenants < 10 s.");
}

if (require.main === module) main().catch((error) => { console.error(error); process.exit(1); });

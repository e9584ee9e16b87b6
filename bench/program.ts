/**
 * npm run bench:program: how long and how much memory evaluating the program takes under the
 * SDK's mock runtime for 50, 200 and 500 tenants, next to a baseline that registers the same
 * number of bare resources in the same way. The ratio is what tenantdb's own code adds on top
 * of the Pulumi SDK. Each case runs in its own child process so its peak RSS is its own.
 *
 * Targets (issue 2): ratio at most 1.2; a 50-tenant stack under 10 s.
 */
import { spawnSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { evaluateProgramOffline } from "../src/program/offline";

const SIZES = [50, 200, 500];

/** A fleet of `tenants` standard tenants, 50 per shared RDS server, each with its backup bucket. */
export function fleetConfig(tenants: number): Record<string, unknown> {
    const servers: Record<string, unknown> = {};
    for (let i = 0; i < Math.ceil(tenants / 50); i++) servers[`shared-${i + 1}`] = { kind: "rds", instanceClass: "db.r6g.4xlarge" };
    return {
        "tenantdb:servers": servers,
        "tenantdb:tenants": Array.from({ length: tenants }, (_, i) => ({ id: `tenant_${i}`, server: `shared-${Math.floor(i / 50) + 1}` })),
    };
}

async function runProgram(tenants: number) {
    const started = process.hrtime.bigint();
    const evaluation = await evaluateProgramOffline(fleetConfig(tenants), { stack: "bench" });
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, resources: evaluation.resources.length };
}

async function runBaseline(resources: number) {
    const started = process.hrtime.bigint();
    let count = 0;
    await pulumi.runtime.setMocks({
        newResource: (args) => { count++; return { id: `${args.name}-id`, state: args.inputs }; },
        call: () => { throw new Error("no invokes in the baseline"); },
    }, "tenantdb", "bench", false);
    await pulumi.runtime.runInPulumiStack(async () => {
        for (let i = 0; i < resources; i++) new (pulumi.CustomResource as any)("bench:index:Bare", `bare-${i}`, { value: i });
        return {};
    });
    await (pulumi.runtime as any).waitForRPCs?.();
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, resources: count };
}

function child(kind: string, n: number): { seconds: number; resources: number; peakMiB: number } {
    const run = spawnSync(process.execPath, [...process.execArgv, __filename, kind, String(n)], { encoding: "utf8", maxBuffer: 1 << 24 });
    const last = run.stdout.trim().split("\n").pop();
    if (run.status !== 0 || !last) throw new Error(`${kind} ${n} failed:\n${run.stderr}`);
    return JSON.parse(last);
}

async function main() {
    const [kind, n] = process.argv.slice(2);
    if (kind) {
        const result = kind === "program" ? await runProgram(Number(n)) : await runBaseline(Number(n));
        console.log(JSON.stringify({ ...result, peakMiB: process.resourceUsage().maxRSS / 1024 }));
        return;
    }
    console.log(`bench:program on ${process.version}, ${require("node:os").cpus().length} cores\n`);
    console.log("tenants  resources  program s  baseline s  time ratio  program s/tenant  program MiB  baseline MiB  MiB/tenant  memory ratio");
    for (const tenants of SIZES) {
        const program = child("program", tenants);
        const baseline = child("baseline", program.resources);
        console.log([
            String(tenants).padStart(7), String(program.resources).padStart(10), program.seconds.toFixed(2).padStart(10),
            baseline.seconds.toFixed(2).padStart(11), (program.seconds / baseline.seconds).toFixed(2).padStart(11),
            (program.seconds / tenants).toFixed(4).padStart(17), program.peakMiB.toFixed(0).padStart(12), baseline.peakMiB.toFixed(0).padStart(13),
            (program.peakMiB / tenants).toFixed(2).padStart(11), (program.peakMiB / baseline.peakMiB).toFixed(2).padStart(13),
        ].join(" "));
    }
    console.log("\nTargets: time ratio <= 1.2; 50 tenants < 10 s.");
}

main().catch((error) => { console.error(error); process.exit(1); });

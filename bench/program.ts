/**
 * npm run bench:program: how long and how much memory evaluating the program takes under the
 * SDK's mock runtime for 50, 200 and 500 tenants, next to two baselines run the same way:
 * - flat: the same resources, built from the same SDK classes with the same inputs in a plain
 *   loop (no config validation, components, parents, providers, dependencies or outputs): the
 *   ratio is what tenantdb's own code and structure add;
 * - bare: the same number of resources with a single input: what the SDK costs per resource.
 * Each case runs in its own child process so its peak RSS is its own.
 *
 * Targets (issue 2): ratio at most 1.2; a 50-tenant stack under 10 s.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { unwrapSecrets } from "../src/local/declared-resources";
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

async function runProgram(tenants: number, graphFile: string) {
    const started = process.hrtime.bigint();
    const evaluation = await evaluateProgramOffline(fleetConfig(tenants), { stack: "bench" });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    writeFileSync(
        graphFile,
        JSON.stringify(evaluation.resources.map((r) => ({ type: r.type, name: r.name, inputs: unwrapSecrets(r.inputs) }))),
    );
    return { seconds, resources: evaluation.resources.length };
}

/** Runs `declare` inside a root stack under mocks that only count registrations. */
async function timedStack(declare: () => void) {
    const started = process.hrtime.bigint();
    let count = 0;
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                count++;
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call: () => {
                throw new Error("no invokes in the baseline");
            },
        },
        "tenantdb",
        "bench",
        false,
    );
    await pulumi.runtime.runInPulumiStack(async () => {
        declare();
        return {};
    });
    await pulumi.runtime.disconnect();
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, resources: count };
}

class BareResource extends pulumi.CustomResource {
    constructor(name: string, props: pulumi.Inputs) {
        super("bench:index:Bare", name, props);
    }
}

/** As many resources with a single input: the SDK's own cost per resource. */
function runBare(resources: number) {
    return timedStack(() => {
        for (let i = 0; i < resources; i++) new BareResource(`bare-${i}`, { value: i });
    });
}

/** The provider SDK classes the program uses, by type token: the flat baseline builds the same classes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each provider class takes args of its own
const CLASSES: Record<string, new (name: string, args: any) => pulumi.Resource> = {
    "postgresql:index/role:Role": postgresql.Role,
    "postgresql:index/database:Database": postgresql.Database,
    "postgresql:index/grant:Grant": postgresql.Grant,
    "postgresql:index/schema:Schema": postgresql.Schema,
    "postgresql:index/defaultPrivileges:DefaultPrivileges": postgresql.DefaultPrivileges,
    "postgresql:index/extension:Extension": postgresql.Extension,
    "random:index/randomPassword:RandomPassword": random.RandomPassword,
    "aws:kms/key:Key": aws.kms.Key,
    "aws:kms/alias:Alias": aws.kms.Alias,
    "aws:s3/bucket:Bucket": aws.s3.Bucket,
    "aws:s3/bucketVersioning:BucketVersioning": aws.s3.BucketVersioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        aws.s3.BucketServerSideEncryptionConfiguration,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": aws.s3.BucketPublicAccessBlock,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": aws.s3.BucketLifecycleConfiguration,
    "aws:s3/bucketPolicy:BucketPolicy": aws.s3.BucketPolicy,
    "aws:iam/policy:Policy": aws.iam.Policy,
    "aws:rds/instance:Instance": aws.rds.Instance,
    "aws:rds/parameterGroup:ParameterGroup": aws.rds.ParameterGroup,
    "aws:cloudwatch/metricAlarm:MetricAlarm": aws.cloudwatch.MetricAlarm,
    "aws:cloudwatch/dashboard:Dashboard": aws.cloudwatch.Dashboard,
    "pulumi:providers:postgresql": postgresql.Provider,
};

/**
 * The program's own resources, built from the same SDK classes with the same inputs, in a plain
 * loop: no config validation, components, parents, providers, dependencies or outputs.
 */
function runFlat(graphFile: string) {
    const graph: { type: string; name: string; inputs: Record<string, unknown> }[] = JSON.parse(readFileSync(graphFile, "utf8"));
    return timedStack(() => {
        for (const resource of graph) {
            const Class = CLASSES[resource.type];
            if (!Class) throw new Error(`bench: no class for ${resource.type}; add it to CLASSES`);
            new Class(resource.name, resource.inputs);
        }
    });
}

function child(kind: string, n: number | string): { seconds: number; resources: number; peakMiB: number } {
    const run = spawnSync(process.execPath, [...process.execArgv, __filename, kind, String(n), graphFile], {
        encoding: "utf8",
        maxBuffer: 1 << 24,
    });
    const last = run.stdout.trim().split("\n").pop();
    if (run.status !== 0 || !last) throw new Error(`${kind} ${n} failed:\n${run.stderr}`);
    return JSON.parse(last);
}

async function main() {
    const [kind, n, file] = process.argv.slice(2);
    if (kind) {
        const result =
            kind === "program" ? await runProgram(Number(n), file) : kind === "flat" ? await runFlat(file) : await runBare(Number(n));
        console.log(JSON.stringify({ ...result, peakMiB: process.resourceUsage().maxRSS / 1024 }));
        return;
    }
    console.log(`bench:program on ${process.version}, ${os.cpus().length} cores\n`);
    const sizes = process.env.BENCH_TENANTS ? process.env.BENCH_TENANTS.split(",").map(Number) : SIZES;
    console.log(
        "tenants  resources  program s  flat s  bare s  ratio/flat  ratio/bare  s/tenant  program MiB  flat MiB  MiB/tenant  mem ratio/flat",
    );
    for (const tenants of sizes) {
        const program = child("program", tenants);
        const flat = child("flat", 0);
        const bare = child("bare", program.resources);
        console.log(
            [
                String(tenants).padStart(7),
                String(program.resources).padStart(10),
                program.seconds.toFixed(2).padStart(10),
                flat.seconds.toFixed(2).padStart(7),
                bare.seconds.toFixed(2).padStart(7),
                (program.seconds / flat.seconds).toFixed(2).padStart(11),
                (program.seconds / bare.seconds).toFixed(2).padStart(11),
                (program.seconds / tenants).toFixed(3).padStart(9),
                program.peakMiB.toFixed(0).padStart(12),
                flat.peakMiB.toFixed(0).padStart(9),
                (program.peakMiB / tenants).toFixed(1).padStart(11),
                (program.peakMiB / flat.peakMiB).toFixed(2).padStart(15),
            ].join(" "),
        );
    }
    rmSync(graphFile, { force: true });
    console.log("\nTargets: ratio/flat (what tenantdb's code adds) <= 1.2; 50 tenants < 10 s.");
}

if (require.main === module)
    main().catch((error) => {
        console.error(error);
        process.exit(1);
    });

/**
 * npm run bench:engine: the real Pulumi engine (file backend, the postgresql and random plugins
 * built by `npm run engine`) on an embedded PostgreSQL, for 10, 25 and 50 tenants of the dev
 * stack's shape (one external server, no buckets), next to the same stack evaluated under the
 * SDK's mock runtime in the same run:
 * - resources per tenant; first `up`; no-op `up`; adding one tenant with a full `up` and with an
 *   `up` targeted at the new tenant (target + targetDependents); state file size; peak RSS of
 *   the program's Node process;
 * - ratio: engine first up / mock evaluation (what the engine and providers add);
 * - once (25 tenants), a first up with PULUMI_SKIP_CHECKPOINTS=true (what checkpoint writes cost)
 *   and one with PULUMI_NODEJS_TRANSPILE_ONLY=true (what ts-node's type-check of the program costs).
 * BENCH_TENANTS=10,25 picks other sizes; BENCH_KNOBS=0 leaves out the once-only runs.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startLocalServer } from "../src/local/embedded-server";
import { evaluateProgramOffline } from "../src/program/offline";
import { declaredTenantsConfig } from "../test/support/declared-tenants";
import { ENGINE_MISSING, EngineProject, locateEngine, stackConfigOf, STACK_RESOURCES } from "../test/support/engine";

const SIZES = process.env.BENCH_TENANTS ? process.env.BENCH_TENANTS.split(",").map(Number) : [10, 25, 50];
const PEAK_RSS = path.join(__dirname, "support/peak-rss.cjs");

type Admin = { host: string; port: number; user: string; password: string };
const tenants = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `bench_${i}`, connectionLimit: 10 }));
const config = (admin: Admin, n: number) => declaredTenantsConfig(admin, tenants(n));

/** Runs `body` against a PostgreSQL server of its own, stopped and removed afterwards. */
async function withFreshServer<T>(body: (admin: Admin) => Promise<T>): Promise<T> {
    const root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-bench-engine-"));
    const server = await startLocalServer({ dataDir: path.join(root, "pgdata"), settings: { max_connections: 400 } });
    try {
        return await body(server);
    } finally {
        await server.stop();
        rmSync(root, { recursive: true, force: true });
    }
}

async function seconds<T>(run: () => Promise<T>): Promise<[number, T]> {
    const started = process.hrtime.bigint();
    const result = await run();
    return [Number(process.hrtime.bigint() - started) / 1e9, result];
}

/** The same stack under the mock runtime, in a child process so its peak RSS is its own. */
function mockEvaluation(n: number): { seconds: number; resources: number; peakMiB: number } {
    const run = spawnSync(process.execPath, [...process.execArgv, __filename, "mock", String(n)], { encoding: "utf8", maxBuffer: 1 << 24 });
    const last = run.stdout.trim().split("\n").pop();
    if (run.status !== 0 || !last) throw new Error(`mock evaluation of ${n} tenants failed:\n${run.stderr}`);
    return JSON.parse(last);
}

interface EngineFigures {
    resources: number;
    firstUp: number;
    noopUp: number;
    addFull: number;
    addTargeted: number;
    addTargetedCreates: number;
    stateKiB: number;
    peakMiB: number;
}

async function engineRun(admin: Admin, n: number, env: Record<string, string> = {}, full = true): Promise<EngineFigures> {
    const engine = locateEngine()!;
    const project = EngineProject.create(engine);
    const rssFile = path.join(project.dir, "..", "peak-rss.txt");
    writeFileSync(rssFile, "");
    // As `pulumi up` runs the program by default: type-checked by ts-node (the tests skip that).
    Object.assign(
        project.env,
        { NODE_OPTIONS: `--require ${PEAK_RSS}`, TENANTDB_PEAK_RSS_FILE: rssFile, PULUMI_NODEJS_TRANSPILE_ONLY: "false" },
        env,
    );
    try {
        const stack = await project.stack("bench", stackConfigOf(config(admin, n)));
        const [firstUp, up] = await seconds(() => stack.up());
        const resources = up.summary.resourceChanges?.create ?? 0;
        const peak = () => Math.max(...readFileSync(rssFile, "utf8").trim().split("\n").map(Number));
        if (!full)
            return { resources, firstUp, noopUp: 0, addFull: 0, addTargeted: 0, addTargetedCreates: 0, stateKiB: 0, peakMiB: peak() };
        const [noopUp] = await seconds(() => stack.up({ expectNoChanges: true }));

        project.writeConfig("bench", stackConfigOf(config(admin, n + 1)).plain);
        const [addFull] = await seconds(() => stack.up());

        project.writeConfig("bench", stackConfigOf(config(admin, n + 2)).plain);
        const component = `urn:pulumi:bench::tenantdb::tenantdb:index:TenantDatabase::tenant-bench_${n + 1}`;
        const [addTargeted, targeted] = await seconds(() => stack.up({ target: [component], targetDependents: true }));

        const stateFile = path.join(project.dir, "..", "state/.pulumi/stacks/tenantdb/bench.json");
        return {
            resources,
            firstUp,
            noopUp,
            addFull,
            addTargeted,
            addTargetedCreates: targeted.summary.resourceChanges?.create ?? 0,
            stateKiB: statSync(stateFile).size / 1024,
            peakMiB: peak(),
        };
    } finally {
        project.remove();
    }
}

async function main() {
    const [kind, count] = process.argv.slice(2);
    if (kind === "mock") {
        const admin = { host: "127.0.0.1", port: 5432, user: "postgres", password: "bench" };
        const [elapsed, evaluation] = await seconds(() => evaluateProgramOffline(config(admin, Number(count)), { stack: "bench" }));
        console.log(
            JSON.stringify({ seconds: elapsed, resources: evaluation.resources.length, peakMiB: process.resourceUsage().maxRSS / 1024 }),
        );
        return;
    }
    const engine = locateEngine();
    if (!engine) throw new Error(ENGINE_MISSING);
    console.log(`bench:engine on ${process.version}, ${os.cpus().length} cores, engine from ${engine.source}\n`);
    console.log(
        "tenants  resources  res/tenant  mock s  mock MiB  first up s  ratio/mock  no-op up s  add: full s  targeted s (creates)  state KiB  program MiB  ratio MiB/mock",
    );
    const rows: (EngineFigures & { n: number })[] = [];
    for (const n of SIZES) {
        const mock = mockEvaluation(n);
        const figures = await withFreshServer((admin) => engineRun(admin, n));
        rows.push({ ...figures, n });
        console.log(
            [
                String(n).padStart(7),
                String(figures.resources).padStart(10),
                ((figures.resources - STACK_RESOURCES) / n).toFixed(1).padStart(11),
                mock.seconds.toFixed(2).padStart(7),
                mock.peakMiB.toFixed(0).padStart(9),
                figures.firstUp.toFixed(1).padStart(11),
                (figures.firstUp / mock.seconds).toFixed(1).padStart(11),
                figures.noopUp.toFixed(1).padStart(11),
                figures.addFull.toFixed(1).padStart(12),
                `${figures.addTargeted.toFixed(1)} (${figures.addTargetedCreates})`.padStart(21),
                figures.stateKiB.toFixed(0).padStart(10),
                figures.peakMiB.toFixed(0).padStart(12),
                (figures.peakMiB / mock.peakMiB).toFixed(2).padStart(15),
            ].join(" "),
        );
    }
    if (rows.length > 1) {
        const [a, b] = [rows[0], rows[rows.length - 1]];
        const growth = (x: number, y: number) => (y / x / (b.n / a.n)).toFixed(2);
        console.log(
            `\nGrowth from ${a.n} to ${b.n} tenants, per tenant (1.00 = linear): first up ${growth(a.firstUp, b.firstUp)}, no-op up ${growth(a.noopUp, b.noopUp)}, ` +
                `add (full up) ${growth(a.addFull, b.addFull)}, add (targeted) ${growth(a.addTargeted, b.addTargeted)}, state ${growth(a.stateKiB, b.stateKiB)}`,
        );
    }

    // Once, at one size: a first up with each knob against the default, each on a fresh server.
    if (process.env.BENCH_KNOBS === "0") return;
    const once = SIZES.includes(25) ? 25 : SIZES[0];
    const firstUp = (env: Record<string, string>) => withFreshServer((admin) => engineRun(admin, once, env, false));
    const base = await firstUp({});
    const skipped = await firstUp({ PULUMI_SKIP_CHECKPOINTS: "true" });
    console.log(
        `\nFirst up of ${once} tenants: ${base.firstUp.toFixed(1)} s; ` +
            `${skipped.firstUp.toFixed(1)} s with PULUMI_SKIP_CHECKPOINTS=true (checkpoint writes: ratio ${(base.firstUp / skipped.firstUp).toFixed(2)})`,
    );
    const transpiled = await firstUp({ PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
    console.log(
        `First up of ${once} tenants with PULUMI_NODEJS_TRANSPILE_ONLY=true (no type-check by ts-node): ${transpiled.firstUp.toFixed(1)} s, ` +
            `ratio ${(base.firstUp / transpiled.firstUp).toFixed(2)}; program peak ${transpiled.peakMiB.toFixed(0)} MiB vs ${base.peakMiB.toFixed(0)} MiB`,
    );
}

if (require.main === module)
    main().catch((error) => {
        console.error(error);
        process.exit(1);
    });

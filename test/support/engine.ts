/**
 * The real Pulumi engine for tests: where its binaries are, and throwaway projects that run this
 * repository's program (index.ts, through the Node.js language host) on a `file://` backend.
 *
 * The engine is found, in order, in TENANTDB_ENGINE_BIN (a `bin` folder with `pulumi` and the
 * plugins: the Automation API runs `<its parent>/bin/pulumi`), in the cache of `npm run engine`, or as a released `pulumi` on PATH. Without one the
 * real-engine tests skip and say why, unless TENANTDB_REQUIRE_ENGINE=1 (set by .ci/run), which
 * turns every such skip into a failure.
 */
import * as automation from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "../..");

export interface Engine {
    /** Folder with `pulumi` (and, for the tenantdb build, the language host and plugins). */
    readonly binDir: string;
    /** Where it was found, for skip and failure messages. */
    readonly source: string;
}

function onPath(binary: string): string | undefined {
    try {
        return path.dirname(execFileSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" }).trim()) || undefined;
    } catch {
        return undefined;
    }
}

const ENGINE_ON_PATH = "pulumi on PATH";

let located: Engine | null | undefined;
/** The engine these tests run on, or undefined when there is none. */
export function locateEngine(): Engine | undefined {
    if (located !== undefined) return located ?? undefined;
    located = null;
    if (process.env.TENANTDB_ENGINE_BIN) {
        located = { binDir: process.env.TENANTDB_ENGINE_BIN, source: "TENANTDB_ENGINE_BIN" };
    } else {
        try {
            const binDir = execFileSync("bash", [path.join(REPO_ROOT, "tools/pulumi-engine/build.sh"), "--locate"], {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
            }).trim();
            located = { binDir, source: "npm run engine" };
        } catch {
            const binDir = onPath("pulumi");
            if (binDir) located = { binDir, source: ENGINE_ON_PATH };
        }
    }
    return located ?? undefined;
}

export const ENGINE_MISSING = "no Pulumi engine: run `npm run engine` (builds it from Go modules) or put a released `pulumi` on PATH";

/**
 * The engine, or: a skip that says why (on a laptop without one), or a failure when
 * TENANTDB_REQUIRE_ENGINE=1 (CI must not go green by skipping).
 */
export function requireEngine(context: Mocha.Context): Engine {
    const engine = locateEngine();
    if (engine) return engine;
    if (process.env.TENANTDB_REQUIRE_ENGINE === "1") throw new Error(`TENANTDB_REQUIRE_ENGINE=1 but ${ENGINE_MISSING}`);
    console.log(`      (skipped: ${ENGINE_MISSING})`);
    context.skip();
}

/** Stack config values by full key (`tenantdb:tenants`); `secrets` are set with --secret --path. */
export interface StackConfig {
    readonly plain: Record<string, unknown>;
    readonly secrets?: Record<string, unknown>;
}

/**
 * A project folder of its own (Pulumi.yaml whose `main` is this repository's index.ts, so `pulumi up` runs
 * index.ts), with its own PULUMI_HOME and `file://` state. Stack files are written here, never
 * in the repository. `enter()` points process.env at it, for code that drives the Automation API
 * with the ambient environment (src/automation/); `leave()` restores it.
 */
export class EngineProject {
    readonly dir: string;
    readonly env: Record<string, string>;
    private saved?: Record<string, string | undefined>;

    private constructor(
        readonly engine: Engine,
        readonly root: string,
    ) {
        this.dir = path.join(root, "project");
        mkdirSync(this.dir);
        mkdirSync(path.join(root, "state"));
        const project = readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8");
        writeFileSync(
            path.join(this.dir, "Pulumi.yaml"),
            project.replace(/^main: .*$/m, `main: ${path.relative(this.dir, path.join(REPO_ROOT, "index.ts"))}`),
        );
        // The language host resolves @pulumi/pulumi from the project folder.
        symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(this.dir, "node_modules"));
        this.env = {
            PATH: `${engine.binDir}${path.delimiter}${path.join(REPO_ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}`,
            // A released CLI finds its plugins where `pulumi plugin install` put them (the user's
            // PULUMI_HOME); the tenantdb build serves them from its folder on PATH.
            ...(engine.source === ENGINE_ON_PATH ? {} : { PULUMI_HOME: path.join(root, "home") }),
            PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "tenantdb-engine-tests",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            // A directory-project `up` would otherwise ask for every provider package in
            // node_modules, aws included (only under the mock runtime here).
            PULUMI_SKIP_PLUGIN_PRE_INSTALL: "true",
            // The program is type-checked once by `npm test` (tsc) and as `pulumi up` loads it by
            // test/program/loads-like-pulumi.test.ts; skipping ts-node's check here halves the time
            // and memory of every engine run (bench:engine).
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            // Each step of an update otherwise rewrites the whole state file: most of an update's
            // time (bench:engine). It changes what survives a crash mid-update, nothing else; the
            // converge test runs with checkpoints, as production does.
            PULUMI_SKIP_CHECKPOINTS: "true",
        };
    }

    static create(engine: Engine): EngineProject {
        return new EngineProject(engine, mkdtempSync(path.join(os.tmpdir(), "tenantdb-engine-")));
    }

    /** The Automation API's handle on the engine's CLI. */
    async command(): Promise<automation.PulumiCommand> {
        return automation.PulumiCommand.get({ root: path.dirname(this.engine.binDir), skipVersionCheck: false });
    }

    /** Creates (or selects) a stack and writes its whole config: the stack file, then each secret. */
    async stack(stackName: string, config: StackConfig): Promise<automation.Stack> {
        const stack = await automation.LocalWorkspace.createOrSelectStack(
            { stackName, workDir: this.dir },
            { envVars: this.env, pulumiCommand: await this.command() },
        );
        this.writeConfig(stackName, config.plain);
        for (const [key, value] of Object.entries(config.secrets ?? {})) {
            await stack.setConfig(key, { value: typeof value === "string" ? value : JSON.stringify(value), secret: true }, true);
        }
        return stack;
    }

    /** Rewrites the given keys of a stack file (a config-file edit); every other key, secrets included, stays. */
    writeConfig(stackName: string, plain: Record<string, unknown>): void {
        const file = path.join(this.dir, `Pulumi.${stackName}.yaml`);
        const existing: { config?: Record<string, unknown> } = existsSync(file) ? (parseYaml(readFileSync(file, "utf8")) ?? {}) : {};
        writeFileSync(file, toYaml({ ...existing, config: { ...existing.config, ...plain } }));
    }

    enter(): void {
        this.saved = Object.fromEntries(Object.keys(this.env).map((key) => [key, process.env[key]]));
        Object.assign(process.env, this.env);
    }

    leave(): void {
        for (const [key, value] of Object.entries(this.saved ?? {})) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
        this.saved = undefined;
    }

    remove(): void {
        this.leave();
        rmSync(this.root, { recursive: true, force: true });
    }
}

/**
 * A test stack's config (declaredTenantsConfig) as a person sets it: everything plain in the
 * stack file, the server passwords with `pulumi config set --secret --path`.
 */
export function stackConfigOf(values: Record<string, unknown>): StackConfig {
    const { "tenantdb:serverPasswords": passwords, ...plain } = values;
    const secrets = Object.fromEntries(
        Object.entries((passwords ?? {}) as Record<string, string>).map(([server, value]) => [`tenantdb:serverPasswords.${server}`, value]),
    );
    return { plain, secrets };
}

/**
 * Resources per tenant as the engine counts them (components/tenant-database.ts: the component,
 * 3 passwords, 4 roles, the database, 5 grants on it and on schema public, 2 extensions, 7
 * schemas, 12 USAGE grants and 18 default privileges); each extra extension adds one.
 */
export const RESOURCES_PER_TENANT = 53;
/**
 * Beside the tenants: the stack, the server's provider, its ExternalServer component and that
 * component's 2 grants closing the maintenance databases (summaries leave out the engine's default
 * random provider).
 */
export const STACK_RESOURCES = 5;

/**
 * What `pulumi refresh --preview-only` reads back differently from the state: per resource (its
 * logical name), the properties that drifted. Events, not the summary: a preview-only refresh
 * records no update.
 */
export async function refreshDrift(stack: automation.Stack): Promise<Record<string, string[]>> {
    const drifted: Record<string, string[]> = {};
    await stack.refresh({
        previewOnly: true,
        onEvent: (event) => {
            const metadata = event.resOutputsEvent?.metadata;
            if (metadata?.op === "update") drifted[metadata.urn.split("::").pop()!] = [...(metadata.diffs ?? [])].sort();
        },
    });
    return drifted;
}

/**
 * The local sandbox behind `npm start`: an embedded PostgreSQL with the dev stack's tenants,
 * declared exactly as `pulumi up` would declare them (offline evaluation + the harness), migrated
 * and seeded. Each stack's state lives in `.tenantdb/sandbox/<stack>/` (git-ignored), so a second
 * run reuses the cluster and the tenants' passwords and only does what changed; while it runs,
 * its PID and port are recorded there (sandbox-state.ts), and a second start is refused.
 *
 * Only the stack's one external server on 127.0.0.1 runs here: tenants on any other server (RDS,
 * another host) are skipped and reported, and nothing connects to the hostnames the offline
 * evaluation's mocks invent for them.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadStackModel, withEveryServerPassword } from "../config/load";
import { StackModel } from "../config/model";
import { StackFile, readStackFile } from "../config/sources/stack-file";
import { evaluateProgramOffline, OfflineEvaluation } from "../program/offline";
import { applyDeclaredResources, ApplySummary } from "./apply-declared";
import { LocalServer, startLocalServer } from "./embedded-server";
import { FleetReport, runFleet } from "../migrate/fleet";
import { targetsFromStackOutputs } from "../migrate/targets";
import { SeedInput } from "../migrate/types";
import { adoptLegacySandbox, claimSandbox, releaseSandbox, sandboxDir, updateRecord } from "./sandbox-state";

export interface SandboxOptions {
    /** The project folder (Pulumi.yaml, Pulumi.<stack>.yaml). */
    readonly workDir: string;
    readonly stack?: string;
    /** Where the cluster, the secrets file and the running record live. Defaults to <workDir>/.tenantdb/sandbox/<stack>. */
    readonly stateDir?: string;
}

/** A tenant of the stack the sandbox does not run: it is on another server than the local one. */
export interface SkippedTenant {
    readonly tenantId: string;
    readonly server: string;
    /** `rds`, or `external` for an external server elsewhere than 127.0.0.1. */
    readonly serverKind: string;
}

export interface Sandbox {
    /** The local PostgreSQL; its `stop` also removes the sandbox's running record. */
    readonly server: LocalServer;
    /** The stack's sandbox folder. */
    readonly stateDir: string;
    /** The tenants it runs (on the local server), in stack order. */
    readonly tenants: readonly string[];
    readonly skipped: readonly SkippedTenant[];
    readonly evaluation: OfflineEvaluation;
    readonly applied: ApplySummary;
    readonly migrations: FleetReport;
    /** The stack model the program was evaluated from. */
    readonly model: StackModel;
    /** File (mode 0600) holding the tenants' role passwords and ERP admin passwords. */
    readonly secretsFile: string;
}

interface SandboxSecrets {
    rolePasswords: Record<string, string>;
    erpAdminPasswords: Record<string, string>;
}

/**
 * The stack file and its one external server on the loopback interface: the PostgreSQL the
 * sandbox starts itself. The model is loaded as `pulumi up` would, but every server counts as
 * having its password: the sandbox supplies the local one, and there may be no others.
 */
export function sandboxStack(file: string): { stackFile: StackFile; model: StackModel; local: { name: string; port: number } } {
    if (!existsSync(file)) throw new Error(`${file} not found: the sandbox runs the stack described there`);
    const stackFile = readStackFile(file);
    const model = loadStackModel(withEveryServerPassword(stackFile.source));
    const local = [...model.servers.values()].filter((s) => s.kind === "external" && (s.host === "127.0.0.1" || s.host === "localhost"));
    if (local.length !== 1 || local[0].kind !== "external") {
        throw new Error(
            `${file}: the sandbox needs exactly one external server on 127.0.0.1 (found ${local.length}); it starts that server itself`,
        );
    }
    return { stackFile, model, local: { name: local[0].name, port: local[0].port } };
}

/**
 * Only the stack's local PostgreSQL, empty of tenants (data in `.tenantdb/server-only/`), for
 * deploying the same stack with the real provider: `pulumi up` then declares everything.
 */
export async function startServerOnly(options: SandboxOptions): Promise<{ server: LocalServer; serverName: string }> {
    const stack = options.stack ?? "dev";
    const file = path.join(options.workDir, `Pulumi.${stack}.yaml`);
    const { local } = sandboxStack(file);
    const stateDir = options.stateDir ?? path.join(options.workDir, ".tenantdb", "server-only");
    mkdirSync(stateDir, { recursive: true });
    const server = await startLocalServer({
        dataDir: path.join(stateDir, "pgdata"),
        port: local.port,
        persistent: true,
        settings: { max_connections: 300 },
    });
    return { server, serverName: local.name };
}

export async function startSandbox(options: SandboxOptions, log: (line: string) => void = () => {}): Promise<Sandbox> {
    const stack = options.stack ?? "dev";
    const file = path.join(options.workDir, `Pulumi.${stack}.yaml`);
    const { stackFile, model, local } = sandboxStack(file);
    if (!options.stateDir) adoptLegacySandbox(options.workDir, stack, log);
    const stateDir = options.stateDir ?? sandboxDir(options.workDir, stack);
    const secretsFile = path.join(stateDir, "secrets.json");
    mkdirSync(stateDir, { recursive: true });
    const record = await claimSandbox(stateDir, { stack, port: local.port }, log);
    // However the process ends (a signal's exit hook calls process.exit), the record goes with it.
    process.once("exit", () => releaseSandbox(stateDir));

    const skipped: SkippedTenant[] = model.tenants
        .filter((tenant) => tenant.server !== local.name)
        .map((tenant) => ({ tenantId: tenant.id, server: tenant.server, serverKind: model.servers.get(tenant.server)?.kind ?? "unknown" }));
    const served = new Set(model.tenants.filter((tenant) => tenant.server === local.name).map((tenant) => tenant.id));

    const secrets: SandboxSecrets = existsSync(secretsFile)
        ? JSON.parse(readFileSync(secretsFile, "utf8"))
        : { rolePasswords: {}, erpAdminPasswords: {} };

    log(`starting PostgreSQL on 127.0.0.1:${local.port} (data: ${path.relative(options.workDir, stateDir)}/pgdata)`);
    const started = await startLocalServer({
        dataDir: path.join(stateDir, "pgdata"),
        port: local.port,
        persistent: true,
        settings: { max_connections: 300 },
    }).catch((error: Error) => {
        const portHint = /address already in use|could not bind|port/i.test(error.message)
            ? ` Is another server using that port? Change servers.${local.name}.port in ${path.basename(file)}.`
            : "";
        releaseSandbox(stateDir);
        throw new Error(`cannot start the sandbox's PostgreSQL on port ${local.port}: ${error.message.trim()}${portHint}`);
    });
    const server: LocalServer = {
        ...started,
        stop: async () => {
            await started.stop();
            releaseSandbox(stateDir);
        },
    };
    try {
        const stackConfig = { ...stackFile.config, "tenantdb:serverPasswords": { [local.name]: server.password } };
        log(`evaluating stack ${stack} offline (the Pulumi program under the SDK's mock runtime)`);
        const evaluation = await evaluateProgramOffline(stackConfig, { stack, passwords: secrets.rolePasswords });
        secrets.rolePasswords = evaluation.passwords;

        const applied = await applyDeclaredResources(evaluation, server, { server: local.name });

        const seed: Record<string, SeedInput> = {};
        for (const tenantId of served) {
            secrets.erpAdminPasswords[tenantId] ??= randomBytes(18).toString("base64url");
            seed[tenantId] = {
                companyName: `${tenantId} (sandbox)`,
                adminEmail: `admin@${tenantId.replace(/_/g, "-")}.example`,
                adminPassword: secrets.erpAdminPasswords[tenantId],
            };
        }
        writeFileSync(secretsFile, JSON.stringify(secrets, null, 2), { mode: 0o600 });
        chmodSync(secretsFile, 0o600); // mode applies only when the file is created

        // Only the local server's tenants: the others' hosts are the mocks' inventions.
        const localOutputs = {
            ...evaluation.outputs,
            tenants: Object.fromEntries(Object.entries(evaluation.outputs.tenants).filter(([id]) => served.has(id))),
        };
        const targets = targetsFromStackOutputs(localOutputs, { maxConnections: { [local.name]: 20 } });
        const migrations = await runFleet(targets, { mode: "up", seed });
        updateRecord(stateDir, { ...record, state: "running", tenants: [...served] });
        return { server, stateDir, tenants: [...served], skipped, evaluation, applied, migrations, model, secretsFile };
    } catch (error) {
        await server.stop();
        throw error;
    }
}

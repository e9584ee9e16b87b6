/**
 * Evaluates the program with the SDK's mock runtime: no Pulumi CLI, engine or credentials.
 * Used by the cost preview, the local sandbox and the benchmarks. The code path is the one
 * `pulumi up` runs (loadFromPulumiConfig + declareStack, as in index.ts); only the engine is mocked.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadFromPulumiConfig } from "../config/sources/pulumi-config";
import { currentStackContext, declareStack } from "./stack";
import { StackOutputValues } from "./outputs";
import { RecordedResource, RecordingMocks } from "./mocks";

/** Resource options as the program set them, captured by a stack transformation. */
export interface RecordedOptions {
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    readonly parent?: string;
    /** Names of the resources in its dependsOn. */
    readonly dependsOn: string[];
}

export interface OfflineEvaluation {
    readonly resources: RecordedResource[];
    /** Options by resource name (`type::name`). */
    readonly options: Map<string, RecordedOptions>;
    readonly outputs: StackOutputValues;
    /** RandomPassword results by resource name (pass them back in to keep passwords stable). */
    readonly passwords: Record<string, string>;
    /** Whether each stack output is a secret. */
    readonly secretOutputs: { tenants: boolean; tenantSecrets: boolean; servers: boolean };
}

/** Stack config as `pulumi config` holds it: full keys (`tenantdb:tenants`) to JSON or string values. */
export type StackConfigValues = Record<string, unknown>;

async function settle<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const internal = output as any;
    const [value, secret] = await Promise.all([internal.promise(), internal.isSecret]);
    return { value, secret };
}

/**
 * Runs the program for `config` under the mock runtime and returns every resource it declared
 * with its inputs and options, and the stack outputs. Evaluations run one at a time (the
 * runtime is process-global).
 */
export async function evaluateProgramOffline(
    config: StackConfigValues,
    { stack = "dev", secretKeys = ["tenantdb:serverPasswords"], passwords }: { stack?: string; secretKeys?: string[]; passwords?: Record<string, string> } = {},
): Promise<OfflineEvaluation> {
    const mocks = new RecordingMocks(passwords);
    await pulumi.runtime.setMocks(mocks, "tenantdb", stack, false);
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) values[key] = typeof value === "string" ? value : JSON.stringify(value);
    pulumi.runtime.setAllConfig(values, secretKeys);

    // Validate first, outside the stack, so a config error is a plain ConfigError to the caller.
    const { model, serverPasswords } = loadFromPulumiConfig(new pulumi.Config("tenantdb"));
    const options = new Map<string, RecordedOptions>();
    let outputs: ReturnType<typeof declareStack> | undefined;
    // Inside a root stack resource, as `pulumi up` runs index.ts; the stack transformation sees
    // every resource's options (protect, retainOnDelete), which the mock monitor does not.
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            options.set(`${args.type}::${args.name}`, {
                protect: args.opts.protect === true,
                retainOnDelete: args.opts.retainOnDelete === true,
                parent: args.opts.parent ? (args.opts.parent as any).__name : undefined,
                dependsOn: ([] as unknown[]).concat(args.opts.dependsOn ?? []).map((resource) => (resource as any).__name as string),
            });
            return undefined;
        });
        outputs = declareStack(model, serverPasswords, currentStackContext());
        return outputs;
    });
    const [tenants, tenantSecrets, servers] = await Promise.all([settle(outputs!.tenants), settle(outputs!.tenantSecrets), settle(outputs!.servers)]);
    await (pulumi.runtime as any).waitForRPCs?.();
    return {
        resources: mocks.resources,
        options,
        passwords: mocks.passwords,
        outputs: { tenants: tenants.value, tenantSecrets: tenantSecrets.value, servers: servers.value },
        secretOutputs: { tenants: tenants.secret, tenantSecrets: tenantSecrets.secret, servers: servers.secret },
    };
}

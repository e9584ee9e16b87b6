/**
 * Evaluates the program with the SDK's mock runtime: no Pulumi CLI, engine or credentials.
 * Used by the cost preview, the local sandbox and the benchmarks. The code path is the one
 * `pulumi up` runs (loadFromPulumiConfig + declareStack, as in index.ts); only the engine is mocked.
 * Only the SDK's public API is used, so an SDK upgrade cannot silently change what is recorded.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadFromPulumiConfig } from "../config/sources/pulumi-config";
import { currentStackContext, declareStack, StackOutputs } from "./stack";
import { StackOutputValues } from "./outputs";
import { MockedResource, RecordedResource, RecordingMocks } from "./mocks";

/** The project name in Pulumi.yaml: part of every URN. */
const PROJECT = "tenantdb";

/** Resource options as the program set them, captured by a stack transformation. */
export interface RecordedOptions {
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    readonly parent?: string;
    /** Names of the resources in its dependsOn. */
    readonly dependsOn: string[];
}

/** A component resource the program declared (TenantDatabase, TenantBackupBucket, RdsServer). */
export interface RecordedComponent {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** Its parent's URN: a component's, or the root stack's. */
    readonly parent: string;
}

export interface OfflineEvaluation {
    /** Every custom resource, with its inputs. */
    readonly resources: RecordedResource[];
    /** Every component resource; the root stack, which the runtime declares, aside. */
    readonly components: RecordedComponent[];
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

export interface OfflineEvaluationOptions {
    readonly stack?: string;
    readonly secretKeys?: string[];
    readonly passwords?: Record<string, string>;
}

/** `urn:pulumi:<stack>::<project>::<qualifiedType>::<name>`, as the engine writes it. */
function resourceUrn(stack: string, qualifiedType: string, name: string): string {
    return `urn:pulumi:${stack}::${PROJECT}::${qualifiedType}::${name}`;
}

interface PlacedResource extends RecordedComponent {
    readonly custom: boolean;
    /** Its ancestors' types below the root stack, then its own, `$`-separated. */
    readonly qualifiedType: string;
}

/**
 * The resource tree, built from the resource objects the stack transformation sees. URNs are
 * worked out here as the engine does (the whole chain of parent types, the root stack's left
 * out): the mock monitor keeps only the last parent type, so its URNs are not the engine's.
 */
class ResourceTree {
    readonly placed: PlacedResource[] = [];
    private readonly byResource = new WeakMap<pulumi.Resource, PlacedResource>();
    private readonly byKey = new Map<string, PlacedResource>();
    private readonly rootUrn: string;

    constructor(private readonly stack: string) {
        this.rootUrn = resourceUrn(stack, "pulumi:pulumi:Stack", `${PROJECT}-${stack}`);
    }

    place({ resource, type, name, opts }: pulumi.ResourceTransformationArgs): void {
        const key = `${type}::${name}`;
        if (this.byKey.has(key)) {
            throw new Error(
                `The program declares two ${type} resources named ${name}; the offline evaluation tells resources apart by both.`,
            );
        }
        const parent = opts.parent ? this.placedOf(opts.parent) : undefined;
        const qualifiedType = parent ? `${parent.qualifiedType}$${type}` : type;
        const placed = {
            type,
            name,
            qualifiedType,
            urn: resourceUrn(this.stack, qualifiedType, name),
            parent: parent?.urn ?? this.rootUrn,
            // Not CustomResource.isInstance: its flag is set after the base constructor, which runs transformations.
            custom: resource instanceof pulumi.CustomResource,
        };
        this.byResource.set(resource, placed);
        this.byKey.set(key, placed);
        this.placed.push(placed);
    }

    placedOf(resource: unknown): PlacedResource {
        const placed = pulumi.Resource.isInstance(resource) ? this.byResource.get(resource) : undefined;
        if (!placed)
            throw new Error("A resource option names a resource not declared inside the stack; the offline evaluation cannot place it.");
        return placed;
    }

    /** The custom resources the monitor saw, each with its URN and parent's. */
    recorded(mocked: readonly MockedResource[]): (RecordedResource & RecordedComponent)[] {
        return mocked.map((resource) => {
            const placed = this.byKey.get(`${resource.type}::${resource.name}`);
            if (!placed)
                throw new Error(`${resource.type} ${resource.name} reached the mock monitor without the stack transformation seeing it.`);
            return { ...resource, urn: placed.urn, parent: placed.parent };
        });
    }

    components(): RecordedComponent[] {
        return this.placed.filter((placed) => !placed.custom).map(({ type, name, urn, parent }) => ({ type, name, urn, parent }));
    }
}

/** The value and secretness of an output that runInPulumiStack has resolved, so its apply runs. */
async function settle<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const value = new Promise<T>((resolve) => output.apply(resolve));
    const [resolved, secret] = await Promise.all([value, pulumi.isSecret(output)]);
    return { value: resolved, secret };
}

async function evaluate(
    config: StackConfigValues,
    { stack = "dev", secretKeys = ["tenantdb:serverPasswords"], passwords }: OfflineEvaluationOptions,
): Promise<OfflineEvaluation> {
    const mocks = new RecordingMocks(passwords);
    await pulumi.runtime.setMocks(mocks, PROJECT, stack, false);
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) values[key] = typeof value === "string" ? value : JSON.stringify(value);
    pulumi.runtime.setAllConfig(values, secretKeys);

    // Validate first, outside the stack, so a config error is a plain ConfigError to the caller.
    const { model, serverPasswords } = loadFromPulumiConfig(new pulumi.Config("tenantdb"));
    const tree = new ResourceTree(stack);
    const options = new Map<string, RecordedOptions>();
    let outputs: StackOutputs | undefined;
    // Inside a root stack resource, as `pulumi up` runs index.ts; the stack transformation sees
    // every resource's options (protect, retainOnDelete) and parent, which the mock monitor does not.
    // (registerResourceTransform would be the newer API, but the mock runtime does not support it.)
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            tree.place(args);
            options.set(`${args.type}::${args.name}`, {
                protect: args.opts.protect === true,
                retainOnDelete: args.opts.retainOnDelete === true,
                parent: args.opts.parent ? tree.placedOf(args.opts.parent).name : undefined,
                dependsOn: ([] as unknown[]).concat(args.opts.dependsOn ?? []).map((resource) => tree.placedOf(resource).name),
            });
            return undefined;
        });
        outputs = declareStack(model, serverPasswords, currentStackContext());
        return outputs;
    });
    const [tenants, tenantSecrets, servers] = await Promise.all([
        settle(outputs!.tenants),
        settle(outputs!.tenantSecrets),
        settle(outputs!.servers),
    ]);
    // The outputs do not wait for every registration (alarms, grants): drain them, as the language
    // host does when a program ends. The next evaluation's setMocks installs a monitor of its own.
    await pulumi.runtime.disconnect();
    return {
        resources: tree.recorded(mocks.resources),
        components: tree.components(),
        options,
        passwords: mocks.passwords,
        outputs: { tenants: tenants.value, tenantSecrets: tenantSecrets.value, servers: servers.value },
        secretOutputs: { tenants: tenants.secret, tenantSecrets: tenantSecrets.secret, servers: servers.secret },
    };
}

let evaluations: Promise<unknown> = Promise.resolve();

/**
 * Runs the program for `config` under the mock runtime and returns every resource it declared
 * with its inputs, options and URN, and the stack outputs. The mocks and config are
 * process-global, so calls are queued and run one at a time; a failed one does not stop the next.
 */
export function evaluateProgramOffline(config: StackConfigValues, options: OfflineEvaluationOptions = {}): Promise<OfflineEvaluation> {
    const evaluation = evaluations.then(() => evaluate(config, options));
    evaluations = evaluation.catch(() => undefined);
    return evaluation;
}

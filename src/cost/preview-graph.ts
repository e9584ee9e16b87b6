/**
 * The planned resource graph from a real `pulumi preview`, through the Automation API: the
 * engine's resource-pre events carry each resource's URN, parent and planned inputs. Needs the
 * Pulumi CLI on PATH and whatever the stack's backend and providers need (login, credentials).
 */
import { EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import { pulumiCliAvailable } from "../shared/pulumi-cli";
import { CostError } from "./errors";
import { nameFromUrn } from "./graph";
import { PlannedResource } from "./types";

/**
 * The planned resource of one engine event, or undefined for events that plan nothing
 * (diagnostics, summaries, deletes, and steps without new state).
 */
export function plannedResourceFromEvent(event: EngineEvent): (PlannedResource & { readonly urn: string }) | undefined {
    const metadata = event.resourcePreEvent?.metadata;
    if (!metadata || metadata.op === "delete" || metadata.op === "discard" || metadata.op === "remove-pending-replace") return undefined;
    const planned = metadata.new;
    if (!planned) return undefined;
    // The engine sends "" as the root stack's parent.
    const parent = planned.parent ? { parent: planned.parent } : {};
    return { type: planned.type, name: nameFromUrn(planned.urn), urn: planned.urn, ...parent, inputs: { ...(planned.inputs ?? {}) } };
}

export interface PreviewGraphOptions {
    readonly stackName: string;
    /** Directory with Pulumi.yaml. */
    readonly workDir: string;
}

/** Runs `pulumi preview` for a stack and collects the planned graph (one entry per URN, last event wins). */
export async function previewGraph(options: PreviewGraphOptions): Promise<PlannedResource[]> {
    if (!pulumiCliAvailable()) {
        throw new CostError(
            "The Pulumi CLI is not on PATH, so a real preview cannot run. Install it (https://www.pulumi.com/docs/install/) or use the offline graph (the default source).",
        );
    }
    let stack;
    try {
        stack = await LocalWorkspace.selectStack({ stackName: options.stackName, workDir: options.workDir });
    } catch (error) {
        throw new CostError(
            `Cannot select stack "${options.stackName}" in ${options.workDir}: ${(error as Error).message.split("\n")[0]}. Check the stack name (pulumi stack ls) and that you are logged in to its backend.`,
            { cause: error },
        );
    }
    const byUrn = new Map<string, PlannedResource>();
    await stack.preview({
        onEvent: (event: EngineEvent) => {
            const planned = plannedResourceFromEvent(event);
            if (planned) byUrn.set(planned.urn, planned);
        },
    });
    return [...byUrn.values()];
}

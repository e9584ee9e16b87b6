/**
 * The infrastructure part of a change preview: a real `pulumi preview` of the proposed stack file,
 * its steps read from the engine's events and grouped by tenant (tenantIdFromLogicalName).
 *
 * The engine approves a plan that replaces or deletes a protected resource and refuses only when
 * `pulumi up` reaches it, halfway through an update. Such steps are flagged blocked here, so a PR
 * shows the refusal before merge.
 */
import type * as automation from "@pulumi/pulumi/automation";
import { stripVTControlCharacters } from "node:util";
import { tenantIdFromLogicalName } from "../naming";
import type { InfrastructureChange, ResourceStep, StepOp } from "./types";

/** The engine's steps that matter to a reader; create-replacement and delete-replaced are one `replace`. */
const SHOWN: Record<string, StepOp | "same" | undefined> = {
    create: "create",
    update: "update",
    replace: "replace",
    delete: "delete",
    same: "same",
};

/** How the engine refuses a step on a protected resource (replace, and delete). */
const PROTECTION_REFUSALS = [
    /^unable to (?:replace|delete) resource "([^"]+)"\s+as it is currently marked for protection/,
    /^(?:Preview failed: )?resource "([^"]+)" cannot be deleted\s+because it is protected/,
];

/** A step the engine refused because its resource is protected. */
export interface ProtectionRefusal {
    readonly tenantId?: string;
    readonly name: string;
}

export interface EnginePreview {
    /** Steps by tenant id; resources outside any tenant under `undefined`. */
    readonly byTenant: Map<string | undefined, InfrastructureChange>;
    /** The engine's refusals of steps on protected resources. */
    readonly refusals: readonly ProtectionRefusal[];
    /** The engine's other error diagnostics when the preview failed (the program refused the config...). */
    readonly problems: readonly string[];
}

/** The logical name at the end of a URN (`...::tenant-acme-database`). */
function logicalName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

function emptyChange(): { counts: Record<StepOp | "same", number>; steps: ResourceStep[] } {
    return { counts: { create: 0, update: 0, replace: 0, delete: 0, same: 0 }, steps: [] };
}

/** One engine step as the preview shows it; undefined for steps it does not show (reads, refreshes). */
export function stepOf(
    metadata: automation.StepEventMetadata,
): { tenantId?: string; op: StepOp | "same"; step?: ResourceStep } | undefined {
    const op = SHOWN[metadata.op];
    if (!op) return undefined;
    const name = logicalName(metadata.urn);
    const tenantId = tenantIdFromLogicalName(name);
    if (op === "same" || metadata.type === "pulumi:pulumi:Stack") return { tenantId, op: "same" };
    const isProtected = metadata.old?.protect === true;
    const properties = [...(op === "replace" ? (metadata.keys ?? []) : (metadata.diffs ?? []))].sort();
    const blocked =
        isProtected && (op === "replace" || op === "delete")
            ? `${op === "replace" ? "replaces" : "deletes"} protected ${name}${properties.length ? ` (${properties.join(", ")} changed)` : ""}: ` +
              "pulumi refuses it, and going ahead without the protection would destroy its data. Revert the change" +
              (op === "replace" ? ", or move the tenant to a server set up that way (README, Moving a tenant)" : "")
            : undefined;
    return { tenantId, op, step: { op, type: metadata.type, name, properties, protected: isProtected, ...(blocked ? { blocked } : {}) } };
}

/** Collects a preview's steps from its engine events. */
export class StepCollector {
    private readonly byTenant = new Map<string | undefined, ReturnType<typeof emptyChange>>();
    private readonly errors: string[] = [];

    get sawErrors(): boolean {
        return this.errors.length > 0;
    }

    readonly onEvent = (event: automation.EngineEvent): void => {
        const metadata = event.resourcePreEvent?.metadata;
        if (metadata) this.add(metadata);
        const diagnostic = event.diagnosticEvent;
        if (diagnostic && diagnostic.severity === "error") {
            const message = stripVTControlCharacters(diagnostic.message).trim();
            if (message && !this.errors.includes(message)) this.errors.push(message);
        }
    };

    private add(metadata: automation.StepEventMetadata): void {
        const shown = stepOf(metadata);
        if (!shown) return;
        const change = this.byTenant.get(shown.tenantId) ?? emptyChange();
        this.byTenant.set(shown.tenantId, change);
        change.counts[shown.op] += 1;
        if (shown.step) change.steps.push(shown.step);
    }

    /**
     * Steps by name (the engine emits independent steps in no fixed order), then by operation.
     * The engine's refusals of protected resources are returned apart from the other problems:
     * the caller shows them as blocked steps of their tenant, and drops the "preview failed" that
     * only follows from them.
     */
    result(): EnginePreview {
        const byName = (a: ResourceStep, b: ResourceStep) => a.name.localeCompare(b.name) || a.op.localeCompare(b.op);
        const sorted = [...this.byTenant].map(([id, change]) => [id, { ...change, steps: [...change.steps].sort(byName) }] as const);
        const refusals: ProtectionRefusal[] = [];
        const problems: string[] = [];
        for (const message of this.errors) {
            const urn = PROTECTION_REFUSALS.map((pattern) => pattern.exec(message)?.[1]).find((found) => found !== undefined);
            if (urn) refusals.push({ tenantId: tenantIdFromLogicalName(logicalName(urn)), name: logicalName(urn) });
            else problems.push(message);
        }
        const onlyTheFailure = refusals.length > 0 && problems.length === 1 && problems[0] === "preview failed";
        return { byTenant: new Map(sorted), refusals, problems: onlyTheFailure ? [] : problems };
    }
}

/** A preview of the stack (with `configFile`, of a stack file that is not on disk yet). */
export async function previewSteps(
    stack: automation.Stack,
    options: { configFile?: string; signal?: AbortSignal },
): Promise<EnginePreview> {
    const collector = new StepCollector();
    try {
        await stack.preview({ onEvent: collector.onEvent, configFile: options.configFile, signal: options.signal });
    } catch (error) {
        const result = collector.result();
        if (collector.sawErrors) return result;
        // No diagnostic: a failure of the engine itself (backend unreachable, plugin missing).
        const message = error instanceof Error ? error.message : String(error);
        const line = message
            .split("\n")
            .map((l) => l.replace(/^\s*stderr:\s*/, "").trim())
            .find((l) => l.startsWith("error:"));
        return { byTenant: result.byTenant, refusals: [], problems: [line ?? `pulumi preview failed: ${message.split("\n")[0]}`] };
    }
    return collector.result();
}

export function noSteps(): InfrastructureChange {
    return emptyChange();
}

/** A resource as `pulumi stack export` lists it (its inputs and outputs are not read). */
export interface StateResource {
    readonly urn: string;
    readonly type: string;
    readonly protect?: boolean;
}

/**
 * Every resource of `tenantId` in the state, as the delete steps of removing it. The engine stops
 * listing a removal at its first protected resource, so this, not the preview, says what goes.
 */
export function deletesFromState(resources: readonly StateResource[], tenantId: string): InfrastructureChange {
    const steps: ResourceStep[] = resources
        .filter((r) => !r.type.startsWith("pulumi:providers:") && tenantIdFromLogicalName(logicalName(r.urn)) === tenantId)
        .map((r): ResourceStep => ({ op: "delete", type: r.type, name: logicalName(r.urn), properties: [], protected: r.protect === true }))
        .sort((a, b) => a.name.localeCompare(b.name));
    return { counts: { create: 0, update: 0, replace: 0, delete: steps.length, same: 0 }, steps };
}

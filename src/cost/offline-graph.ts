/**
 * The planned graph of the program evaluated offline: the program's own evaluator
 * (`src/program/offline.ts`, SDK mock runtime, no engine, no credentials) run on a stack's config.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { CostError } from "./errors";
import { SECRET_PLACEHOLDER, StackFile } from "../config/sources/stack-file";
import { PlannedResource } from "./types";

/** Path of the program's offline evaluator. */
export const OFFLINE_EVALUATOR = path.resolve(__dirname, "..", "program", "offline.ts");

type Evaluator = (config: Record<string, unknown>, options?: { stack?: string }) => Promise<unknown>;

/**
 * Secrets the program requires but a stack file may not hold (set with `pulumi config set --secret`
 * into a backend, or never set on a machine that only previews cost): every external server's admin
 * password gets a placeholder. Passwords do not affect cost. Returns the server names filled in.
 */
export function fillPasswordPlaceholders(config: Record<string, string>): string[] {
    const serversRaw = config["tenantdb:servers"];
    if (!serversRaw) return [];
    let servers: unknown;
    let passwords: Record<string, unknown> = {};
    try {
        servers = JSON.parse(serversRaw);
        if (config["tenantdb:serverPasswords"]) passwords = JSON.parse(config["tenantdb:serverPasswords"]) as Record<string, unknown>;
    } catch {
        return []; // the program's own validation reports malformed config
    }
    if (!servers || typeof servers !== "object") return [];
    const filled: string[] = [];
    for (const [name, server] of Object.entries(servers as Record<string, { kind?: unknown }>)) {
        if (server?.kind === "external" && passwords[name] === undefined) {
            passwords[name] = SECRET_PLACEHOLDER;
            filled.push(name);
        }
    }
    if (filled.length > 0) config["tenantdb:serverPasswords"] = JSON.stringify(passwords);
    return filled;
}

/** Stack name from a `Pulumi.<stack>.yaml` path. */
export function stackNameOf(file: string): string {
    const match = /^Pulumi\.(.+)\.ya?ml$/.exec(path.basename(file));
    return match ? match[1] : "dev";
}

type EvaluatedResource = { type: string; name: string; urn?: string; parent?: string; inputs?: Record<string, unknown> };

/**
 * Accepts the evaluator's result as a graph, or as an evaluation with `resources` and
 * `components`. The components carry no cost, but owners are found by walking up through them.
 */
export function graphFromEvaluation(result: unknown): PlannedResource[] {
    const evaluation = result as { resources?: unknown; components?: unknown } | undefined;
    const resources = Array.isArray(result) ? result : evaluation?.resources;
    if (!Array.isArray(resources))
        throw new CostError(
            "The offline evaluator returned neither a resource list nor { resources }; the cost preview cannot read its graph.",
        );
    const components = !Array.isArray(result) && Array.isArray(evaluation?.components) ? evaluation.components : [];
    return [...resources, ...components].map(({ type, name, urn, parent, inputs }: EvaluatedResource) => {
        if (!urn) {
            throw new CostError(
                `The offline evaluator returned ${type} ${name} without its URN; the cost preview finds owners from the component tree and needs it.`,
            );
        }
        return { type, name, urn, ...(parent ? { parent } : {}), inputs: inputs ?? {} };
    });
}

/** Evaluates the program offline for a stack config and returns its planned graph. */
export async function offlineGraph(stack: StackFile, onNote: (note: string) => void = () => {}): Promise<PlannedResource[]> {
    if (!existsSync(OFFLINE_EVALUATOR)) {
        throw new CostError(
            "The offline evaluator (src/program/offline.ts, from the Pulumi program issue) is not in this checkout, so the program cannot be evaluated offline. " +
                "Price a saved graph with --graph <file.json>, or run a real preview with --source preview.",
        );
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const evaluator = (require(OFFLINE_EVALUATOR) as { evaluateProgramOffline?: Evaluator }).evaluateProgramOffline;
    if (typeof evaluator !== "function")
        throw new CostError(`${OFFLINE_EVALUATOR} does not export evaluateProgramOffline(config); the cost preview needs it.`);
    const config = { ...stack.config };
    const filled = fillPasswordPlaceholders(config);
    if (filled.length > 0)
        onNote(
            `admin password of external server(s) ${filled.join(", ")} not in ${stack.file}; placeholders used for the offline evaluation (passwords do not affect cost)`,
        );
    let result: unknown;
    try {
        result = await evaluator(config, { stack: stackNameOf(stack.file) });
    } catch (error) {
        throw new CostError(`Evaluating the program offline for ${stack.file} failed: ${(error as Error).message}`, { cause: error });
    }
    return graphFromEvaluation(result);
}

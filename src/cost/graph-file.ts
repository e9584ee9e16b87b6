/** Saved planned graphs (JSON arrays of {@link PlannedResource}), for `--graph` and `--save-graph`. */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { CostError } from "./errors";
import { PlannedResource } from "./types";

/** Checks a parsed value is a planned graph; the error names the first bad entry and field. */
export function parseGraph(value: unknown, origin: string): PlannedResource[] {
    if (!Array.isArray(value)) throw new CostError(`${origin} must be a JSON array of { type, name, urn, parent, inputs } resources`);
    value.forEach((entry, index) => {
        const r = entry as Partial<PlannedResource> | null;
        const at = `${origin}[${index}]`;
        if (!r || typeof r !== "object") throw new CostError(`${at} must be an object { type, name, urn, parent, inputs }`);
        const fail = (problem: string): never => {
            throw new CostError(`${at}.${problem}`);
        };
        if (typeof r.type !== "string" || r.type === "") fail('type must be a Pulumi type token such as "aws:rds/instance:Instance"');
        if (typeof r.name !== "string" || r.name === "") fail("name must be the resource's logical name");
        // Owners come from the component tree, so a graph saved before URNs were recorded cannot be priced right.
        if (typeof r.urn !== "string" || !r.urn.startsWith("urn:pulumi:")) {
            fail("urn must be the resource's URN (urn:pulumi:...); a graph saved without URNs must be saved again with --save-graph");
        }
        if (r.parent !== undefined && typeof r.parent !== "string") fail("parent must be its parent's URN, or absent for the root stack");
        if (!r.inputs || typeof r.inputs !== "object" || Array.isArray(r.inputs)) fail("inputs must be an object (use {} for none)");
    });
    return value as PlannedResource[];
}

export function readGraphFile(file: string): PlannedResource[] {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (error) {
        throw new CostError(`Cannot read graph file ${file}: ${(error as Error).message}`, { cause: error });
    }
    try {
        return parseGraph(JSON.parse(text), `graph file ${file}`);
    } catch (error) {
        if (error instanceof CostError) throw error;
        throw new CostError(`Graph file ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
}

/**
 * Writes a graph. Inputs may hold secret values the program declared (passwords): the file is
 * written with mode 0600, and it should not be committed.
 */
export function writeGraphFile(file: string, graph: readonly PlannedResource[]): void {
    writeFileSync(file, JSON.stringify(graph, null, 2) + "\n", { mode: 0o600 });
    chmodSync(file, 0o600); // mode applies only when the file is created
}

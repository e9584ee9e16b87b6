/** Saved planned graphs (JSON arrays of {@link PlannedResource}), for `--graph` and `--save-graph`. */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { CostError } from "./errors";
import { PlannedResource } from "./types";

/**
 * The numeric inputs the cost model reads (pricing-rds.ts, pricing.ts, pricing-s3.ts), with the
 * values that make sense for them. A saved graph is a file anyone can edit: a negative or
 * astronomical size would be priced as a credit or as the national debt.
 */
const NUMERIC_INPUTS: Record<string, { readonly min: number; readonly max: number; readonly meaning: string }> = {
    allocatedStorage: { min: 0, max: 65536, meaning: "GB of storage" },
    maxAllocatedStorage: { min: 0, max: 65536, meaning: "GB of storage" },
    iops: { min: 0, max: 256_000, meaning: "provisioned IOPS" },
    backupRetentionPeriod: { min: 0, max: 35, meaning: "days" },
    performanceInsightsRetentionPeriod: { min: 0, max: 731, meaning: "days" },
    // PostgreSQL's CONNECTION LIMIT: -1 is "no limit".
    connectionLimit: { min: -1, max: 262_143, meaning: "connections (-1: no limit)" },
    period: { min: 0, max: 86_400, meaning: "seconds" },
};
/** Bound of lifecycle rules' days (S3 allows far more; no backup is kept 300 years). */
const MAX_LIFECYCLE_DAYS = 109_500;

function checkNumbers(inputs: Record<string, unknown>, fail: (problem: string) => never): void {
    const check = (field: string, value: unknown, min: number, max: number, meaning: string) => {
        if (value === undefined || value === null) return; // unknown at preview time
        if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
            const given = typeof value === "number" ? String(value) : `a ${typeof value}`;
            fail(
                `inputs.${field} must be a JSON number from ${min} to ${max} (${meaning}), got ${given}; ` +
                    "save the graph again with --save-graph instead of editing it",
            );
        }
    };
    for (const [field, { min, max, meaning }] of Object.entries(NUMERIC_INPUTS)) check(field, inputs[field], min, max, meaning);
    if (Array.isArray(inputs.rules)) {
        inputs.rules.forEach((rule: unknown, index) => {
            if (!rule || typeof rule !== "object") return;
            const r = rule as Record<string, unknown>;
            for (const [key, field] of [
                ["expiration", "days"],
                ["noncurrentVersionExpiration", "noncurrentDays"],
            ] as const) {
                const items = Array.isArray(r[key]) ? (r[key] as unknown[]) : [r[key]];
                items.forEach((item, at) => {
                    if (!item || typeof item !== "object") return;
                    const where = Array.isArray(r[key]) ? `rules[${index}].${key}[${at}].${field}` : `rules[${index}].${key}.${field}`;
                    check(where, (item as Record<string, unknown>)[field], 0, MAX_LIFECYCLE_DAYS, "days");
                });
            }
        });
    }
}

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
        checkNumbers(r.inputs as Record<string, unknown>, fail);
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
        // Not the parser's message, nor the error as a cause: V8's quotes the text, and a saved graph
        // holds the inputs the program declared, passwords included. Its position only.
        const position = /position (\d+)/.exec((error as Error).message)?.[1];
        throw new CostError(
            `Graph file ${file} is not valid JSON${position ? ` (at character ${position})` : ""}; save it again with --save-graph`,
        );
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

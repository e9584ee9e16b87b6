/**
 * The cost of a stack file: its program evaluated offline, priced with the stack's prices file.
 * What `cost preview --stack` prints and what the change preview compares, before and after.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { loadStackModel, withEveryServerPassword } from "../config/load";
import type { StackFile } from "../config/sources/stack-file";
import { estimateCost } from "./allocate";
import { assumptionsFromModel } from "./assumptions";
import { CostError } from "./errors";
import { offlineGraph } from "./offline-graph";
import { defaultPricesPath, loadPriceBook } from "./prices";
import type { CostAssumptions, CostReport, PlannedResource } from "./types";

/** Stack config key naming a prices file (relative to the stack file), overridden by --prices. */
export const PRICES_CONFIG_KEY = "tenantdb:costPrices";

/** A path as the user would type it: relative to the working directory when under it. */
export function displayPath(file: string): string {
    const relative = path.relative(process.cwd(), file);
    return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

/** The prices file to use: `explicit`, else the stack's tenantdb:costPrices, else the region's shipped file. */
export function pricesFileFor(explicit: string | undefined, stack: StackFile | undefined, region: string): string {
    if (explicit) return explicit;
    const fromConfig = stack?.config[PRICES_CONFIG_KEY];
    if (fromConfig) return path.resolve(path.dirname(stack!.file), fromConfig);
    const file = defaultPricesPath(region);
    if (!existsSync(file)) {
        throw new CostError(
            `No prices file for region ${region} (looked for ${file}). ` +
                `Create one with \`npm run cost -- refresh-prices --region ${region}\`, or pass --prices <file>.`,
        );
    }
    return file;
}

/** Prices a planned graph under a stack's assumptions. */
export function priceGraph(
    graph: readonly PlannedResource[],
    assumptions: CostAssumptions,
    stack: StackFile | undefined,
    pricesFile?: string,
): CostReport {
    const file = pricesFileFor(pricesFile, stack, assumptions.region);
    return estimateCost(graph, loadPriceBook(file), assumptions, displayPath(file));
}

/** The monthly cost of a stack file, its program evaluated offline (no AWS call, no engine). */
export async function costOfStackFile(stack: StackFile, options: { pricesFile?: string; onNote?: (note: string) => void } = {}) {
    const assumptions = assumptionsFromModel(loadStackModel(withEveryServerPassword(stack.source)));
    return priceGraph(await offlineGraph(stack, options.onNote), assumptions, stack, options.pricesFile);
}

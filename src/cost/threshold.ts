/**
 * `cost diff --fail-above <usd>` and `--fail-above-percent <pct>`: the increase in monthly cost
 * a change may bring before the run fails, as infracost's policies do for a pull request.
 */
import { CostError } from "./errors";
import { formatDelta, formatUsd, roundCents } from "./format";

/** Exit code of a diff whose increase is above a threshold; errors exit 1. */
export const THRESHOLD_EXIT_CODE = 3;

/** The increases a diff may bring; either or both. */
export interface CostThreshold {
    /** Most the monthly total may rise, in USD. */
    readonly aboveUsd?: number;
    /** Most the monthly total may rise, in percent of the total before. */
    readonly abovePercent?: number;
}

/** Parses a threshold option's value: a number >= 0, or an error naming the option. */
export function parseThreshold(option: string, value: string): number {
    const number = Number(value);
    if (value.trim() === "" || !Number.isFinite(number) || number < 0)
        throw new CostError(`${option} takes a number >= 0 (e.g. ${option} 50), got ${JSON.stringify(value)}`);
    return number;
}

/**
 * Why the change from `beforeUsd` to `afterUsd` is above the threshold, or undefined when it is
 * not. Amounts compare in cents, as printed; a rise from $0 is above any percentage.
 */
export function thresholdBreach(
    beforeUsd: number,
    afterUsd: number,
    threshold: CostThreshold,
    what = "the monthly total",
): string | undefined {
    const delta = roundCents(afterUsd - beforeUsd);
    const change = `${what} changes by ${formatDelta(delta)} (${formatUsd(beforeUsd)} -> ${formatUsd(afterUsd)})`;
    const reasons: string[] = [];
    if (threshold.aboveUsd !== undefined && delta > threshold.aboveUsd)
        reasons.push(`more than --fail-above ${formatUsd(threshold.aboveUsd)}`);
    if (threshold.abovePercent !== undefined && delta > 0) {
        const before = roundCents(beforeUsd);
        const percent = before > 0 ? (delta / before) * 100 : Infinity;
        if (percent > threshold.abovePercent)
            reasons.push(
                `${before > 0 ? `${Math.round(percent * 100) / 100}%` : "a rise from $0.00"}, more than --fail-above-percent ${threshold.abovePercent}%`,
            );
    }
    return reasons.length > 0 ? `${change}: ${reasons.join("; ")}` : undefined;
}

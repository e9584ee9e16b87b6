/**
 * Whole-number command-line options, parsed one way by every script. `Number()` reads `0x10`,
 * `1e3`, ` 4 ` and `1e12` as numbers, so a typo or a stray exponent became a concurrency of a
 * trillion; here only decimal digits are accepted, within bounds chosen per option.
 */
import { InvalidArgumentError } from "commander";

/** Longest value quoted back in an error: enough to recognise it, never a screenful. */
const SHOWN = 40;

function shown(value: string): string {
    return JSON.stringify(value.length > SHOWN ? `${value.slice(0, SHOWN)}...` : value);
}

/**
 * A commander argument parser for `option` (e.g. `--concurrency`): decimal digits only, from
 * `min` to `max`. The error names the option, the range and what was given.
 */
export function wholeNumberOption(option: string, min: number, max: number): (value: string) => number {
    return (value: string) => {
        const n = /^[0-9]{1,15}$/.test(value) ? Number(value) : Number.NaN;
        if (!(n >= min && n <= max)) {
            throw new InvalidArgumentError(
                `${option} must be a whole number from ${min} to ${max} (decimal digits only), got ${shown(value)}`,
            );
        }
        return n;
    };
}

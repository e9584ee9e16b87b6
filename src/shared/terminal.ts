/**
 * How tenantdb's commands write to a terminal, one way for all of them: results on stdout,
 * progress and logs on stderr; colours only on a terminal and never with NO_COLOR
 * (https://no-color.org); progress bars only on an interactive stderr outside CI.
 */
import Table from "cli-table3";

/** True when `stream` may carry colour: a terminal, and NO_COLOR unset or empty. */
export function colorAllowed(stream: NodeJS.WriteStream = process.stdout): boolean {
    return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

/** True when progress may redraw lines on `stream` (a bar): a terminal outside CI. */
export function interactive(stream: NodeJS.WriteStream = process.stderr): boolean {
    return Boolean(stream.isTTY) && !process.env.CI;
}

/** A cli-table3 table for stdout: its colours (head and borders) only where colour is allowed. */
export function resultTable(head: string[], options: ConstructorParameters<typeof Table>[0] = {}): InstanceType<typeof Table> {
    return new Table({ head, ...options, ...(colorAllowed() ? {} : { style: { head: [], border: [], ...options.style } }) });
}

/** A line of progress or log for people: stderr, so stdout keeps only the result. */
export function progress(line: string): void {
    process.stderr.write(`${line}\n`);
}

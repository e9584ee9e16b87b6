/**
 * Progress of a fleet run: a live bar on a terminal (cli-progress), one plain line per
 * tenant elsewhere (CI logs). Written to stderr so stdout stays the report. A failure's error is
 * printed once, in the report, not again in its progress line.
 */
import { SingleBar } from "cli-progress";
import type { ProgressEvent } from "./fleet";

export interface Progress {
    readonly onProgress: (event: ProgressEvent) => void;
    stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
    if (stream.isTTY && !process.env.CI) {
        const bar = new SingleBar({
            stream,
            format: "{bar} {value}/{total} tenants | {failed} failed | {last}",
            hideCursor: true,
            clearOnComplete: false,
        });
        let failed = 0;
        return {
            onProgress(event) {
                if (event.kind === "start") bar.start(event.total, 0, { failed, last: "" });
                else if (event.kind === "tenant") {
                    if (event.result.outcome === "failed") failed++;
                    bar.update(event.done, { failed, last: `${event.result.tenantId} ${event.result.outcome}` });
                } else if (event.kind === "stopped") bar.update({ last: `stopped: ${event.reason}` });
            },
            stop: () => bar.stop(),
        };
    }
    const line = (text: string) => stream.write(`${text}\n`);
    return {
        onProgress(event) {
            if (event.kind === "start") line(`migrating ${event.total} tenant(s)`);
            else if (event.kind === "wave") line(`wave ${event.index}: ${event.tenants.length} tenant(s)`);
            else if (event.kind === "stopped") line(`stopped: ${event.reason}`);
            else {
                const r = event.result;
                const versions = r.from === r.to ? `${r.to ?? "(empty)"}` : `${r.from ?? "(empty)"} -> ${r.to ?? "(empty)"}`;
                line(
                    `[${event.done}/${event.total}] ${r.tenantId} ${r.outcome} ${versions} ${r.durationMs} ms${r.error ? " (the error is in the report)" : r.message ? `: ${r.message}` : ""}`,
                );
            }
        },
        stop: () => undefined,
    };
}

/**
 * The control API's access to the Pulumi engine: selecting a stack with the caller's
 * environment, and running an update that reports failures as EngineError and waits (bounded)
 * for the engine's own stack lock, held by a `pulumi up` that did not go through tenantdb.
 */
import * as automation from "@pulumi/pulumi/automation";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pulumiCliAvailable } from "../shared/pulumi-cli";
import { AbortedError, BusyError, EngineError } from "./errors";

export interface EngineSettings {
    /** The project folder (Pulumi.yaml, Pulumi.<stack>.yaml). */
    readonly workDir: string;
    /** Environment for the engine: PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, credentials. */
    readonly env?: Record<string, string>;
    /** Folder holding the `pulumi` binary; PATH when omitted. */
    readonly pulumiBinDir?: string;
}

const ENGINE_LOCKED = /the stack is currently locked/;
const OUTPUT_TAIL_LINES = 40;

export async function selectStack(settings: EngineSettings, stackName: string): Promise<automation.Stack> {
    if (!settings.pulumiBinDir && !pulumiCliAvailable()) {
        throw new EngineError(
            stackName,
            "stack select",
            "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) or build it (npm run engine) to deploy; the offline sandbox (npm start) needs no CLI",
        );
    }
    const pulumiCommand = settings.pulumiBinDir
        ? await automation.PulumiCommand.get({ root: path.dirname(settings.pulumiBinDir), skipVersionCheck: false })
        : undefined;
    try {
        return await automation.LocalWorkspace.selectStack(
            { stackName, workDir: settings.workDir },
            { envVars: settings.env, pulumiCommand },
        );
    } catch (error) {
        throw new EngineError(stackName, "stack select", firstLine(error), { cause: error });
    }
}

export interface UpdateOptions {
    readonly target?: string[];
    readonly signal?: AbortSignal;
    /** Engine output lines, as printed (the engine masks secrets). */
    readonly onOutput?: (line: string) => void;
    /** How long to wait for the engine's lock on the stack. */
    readonly lockWaitMs: number;
    /** Called each time the engine's lock is found held and the update will be retried. */
    readonly onLocked?: () => void;
}

/** `pulumi up`, retried while another update holds the engine's lock on the stack. */
export async function update(stack: automation.Stack, options: UpdateOptions): Promise<automation.UpResult> {
    const started = Date.now();
    for (;;) {
        // The engine's diagnostics, wherever they come in its output (its tail is the outputs' dump).
        const errors: string[] = [];
        let inDiagnostics = false;
        const onOutput = (line: string) => {
            if (/^Diagnostics:/.test(line)) inDiagnostics = true;
            else if (/^(Outputs|Resources):/.test(line)) inDiagnostics = false;
            if ((inDiagnostics || /^\s*error:/m.test(line)) && errors.length < OUTPUT_TAIL_LINES) errors.push(line);
            options.onOutput?.(line);
        };
        try {
            return await stack.up({ target: options.target, signal: options.signal, onOutput });
        } catch (error) {
            if (options.signal?.aborted) throw new AbortedError(`pulumi up of stack ${stack.name}`);
            const output = `${errors.join("")}${errorText(error)}`;
            if (!ENGINE_LOCKED.test(output)) throw new EngineError(stack.name, "up", engineErrors(output), { cause: error });
            const waited = Date.now() - started;
            if (waited >= options.lockWaitMs)
                throw new BusyError(stack.name, "a pulumi update outside tenantdb holds the engine's stack lock", waited);
            options.onLocked?.();
            await sleep(1000, undefined, { signal: options.signal }).catch(() => undefined);
        }
    }
}

function errorText(error: unknown): string {
    if (error instanceof automation.CommandError) return error.message;
    return error instanceof Error ? error.message : String(error);
}

/** The engine's own error line (`error: ...`), else the first line of the message. */
function firstLine(error: unknown): string {
    const lines = errorText(error)
        .split("\n")
        .map((line) => line.replace(/^\s*stderr:\s*/, "").trim());
    return lines.find((line) => line.startsWith("error:")) ?? lines.find((line) => line !== "") ?? "unknown error";
}

/** The diagnostics of an engine run (lines once each), else its last lines. */
function engineErrors(text: string): string {
    const lines = text
        .split("\n")
        .map((line) => line.replace(/^\s*stderr:\s*/, "").trimEnd())
        .filter((line) => line.trim() !== "");
    const unique = [...new Set(lines)];
    return unique.slice(0, OUTPUT_TAIL_LINES).join("\n");
}

/**
 * Deployed stack outputs (secrets included), read through the engine and kept for a short
 * while: every tenant read needs them, and each read runs the `pulumi` CLI. A job that changes
 * a stack drops its entry, so a read after a job sees what the job deployed.
 */
import { deployedOutputs } from "../control/deployed";
import { selectStack, EngineSettings } from "../control/engine";
import type { DeployedOutputs } from "../program/outputs";

const FRESH_MS = 30_000;

export class DeployedOutputsCache {
    private readonly entries = new Map<string, { at: number; outputs: Promise<DeployedOutputs> }>();

    constructor(private readonly settings: EngineSettings) {}

    get(stack: string): Promise<DeployedOutputs> {
        const cached = this.entries.get(stack);
        if (cached && Date.now() - cached.at < FRESH_MS) return cached.outputs;
        const outputs = selectStack(this.settings, stack).then(deployedOutputs);
        this.entries.set(stack, { at: Date.now(), outputs });
        outputs.catch(() => this.entries.get(stack)?.outputs === outputs && this.entries.delete(stack));
        return outputs;
    }

    invalidate(stack: string): void {
        this.entries.delete(stack);
    }
}

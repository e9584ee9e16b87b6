/**
 * Whether the Pulumi CLI can run here. The Automation API drives a `pulumi` binary on PATH; the
 * offline paths (sandbox, offline cost preview) need none.
 */
import { spawnSync } from "node:child_process";

/** True when a `pulumi` binary on PATH answers `pulumi version`. */
export function pulumiCliAvailable(): boolean {
    const result = spawnSync("pulumi", ["version"], { stdio: "ignore" });
    return result.error === undefined && result.status === 0;
}

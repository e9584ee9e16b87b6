/** What `backup doctor` reports: one finding per leftover it looked at, and whether it is an orphan. */
import { existsSync, readFileSync } from "node:fs";
import { describe } from "../errors";

export type FindingKind = "scratch-database" | "blocked-login" | "temp-folder" | "partial-object" | "before-restore-copy";

/**
 * `orphan`: left by a run that is gone (undone by --fix); `removed`: undone by this --fix;
 * `failed`: an orphan --fix could not remove; `in-use`: its run is still going; `skipped`: doctor
 * cannot tell whose it is; `kept`: not an orphan at all (a before-restore copy).
 */
export type FindingState = "orphan" | "removed" | "failed" | "in-use" | "skipped" | "kept";

export interface DoctorFinding {
    readonly kind: FindingKind;
    readonly tenantId: string;
    /** The server, for databases and roles. */
    readonly server?: string;
    /** The database or role name, folder path or object URI. */
    readonly name: string;
    readonly state: FindingState;
    /** Why it is in that state; for a kept copy, the command that drops it. */
    readonly detail: string;
}

/** What a removal gives: `removed`, or `failed` with the reason added to the detail. */
export async function removal(finding: DoctorFinding, remove: () => Promise<unknown>): Promise<DoctorFinding> {
    try {
        await remove();
        return { ...finding, state: "removed" };
    } catch (error) {
        return { ...finding, state: "failed", detail: `${finding.detail}; could not be removed: ${describe(error)}` };
    }
}

/**
 * Whether a process of this host is still running. A zombie (killed, not yet reaped by its
 * parent) is gone: it holds no file and no connection any more.
 */
export function processIsRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (error) {
        // EPERM: it runs, as another user.
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
    if (!existsSync("/proc/self/stat")) return true; // no /proc (macOS): kill(0) is all there is
    try {
        // `pid (comm) S ...`: comm may hold spaces and parentheses; the state follows the last ")".
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
    } catch {
        return false; // it ended between the two looks
    }
}

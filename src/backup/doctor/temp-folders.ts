/**
 * The temp folders restores with --jobs above 1 copy their dump into
 * (`tenantdb-restore-<tenant>-<pid>-XXXXXX`, see restore/download.ts). A killed restore leaves one
 * as large as the dump; it is removed only when the process named in it is gone.
 */
import { readdir, rm } from "node:fs/promises";
import * as path from "node:path";
import { parseTempFolderName } from "../restore/download";
import { DoctorFinding, processIsRunning, removal } from "./findings";

export async function inspectTempFolders(
    tempDir: string,
    tenantIds: ReadonlySet<string>,
    fix: boolean,
    log: (line: string) => void,
): Promise<DoctorFinding[]> {
    let names: string[];
    try {
        names = await readdir(tempDir);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw new Error(
            `cannot read the temp folder ${tempDir} (${(error as Error).message}). ` +
                "Fix: pass --temp-dir with the folder restores use, readable by this user.",
            { cause: error },
        );
    }
    const findings: DoctorFinding[] = [];
    for (const name of names.sort()) {
        const owner = parseTempFolderName(name);
        if (!owner || !tenantIds.has(owner.tenantId)) continue;
        const folder = path.join(tempDir, name);
        const finding = { kind: "temp-folder", tenantId: owner.tenantId, name: folder } as const;
        if (processIsRunning(owner.pid)) {
            findings.push({ ...finding, state: "in-use", detail: `its restore (process ${owner.pid}) is still running` });
            continue;
        }
        const orphan: DoctorFinding = { ...finding, state: "orphan", detail: `its restore (process ${owner.pid}) is gone` };
        if (!fix) {
            findings.push(orphan);
            continue;
        }
        const removed = await removal(orphan, () => rm(folder, { recursive: true, force: true }));
        if (removed.state === "removed") log(`${owner.tenantId}: removed ${folder}`);
        findings.push(removed);
    }
    return findings;
}

/**
 * Partial objects in file:// destinations (`<key>.<pid>@<host>.partial`, see store.ts): a backup
 * killed mid-dump leaves one. Never listed or restored, but as large as the dump. Removed only
 * when its writer was a process of this host that is gone; S3 uploads are invisible until complete.
 */
import * as os from "node:os";
import { tenantBackupPrefix } from "../manifest";
import { BackupStore, PartialObject } from "../store";
import { DoctorFinding, processIsRunning, removal } from "./findings";

export async function inspectPartialObjects(
    store: BackupStore,
    tenantId: string,
    fix: boolean,
    log: (line: string) => void,
): Promise<DoctorFinding[]> {
    if (!store.listPartial) return [];
    const findings: DoctorFinding[] = [];
    for (const partial of await store.listPartial(tenantBackupPrefix(store.prefix, tenantId))) {
        const finding = judge(partial, tenantId);
        if (finding.state !== "orphan" || !fix) {
            findings.push(finding);
            continue;
        }
        const removed = await removal(finding, () => store.remove(partial.key));
        if (removed.state === "removed") log(`${tenantId}: removed ${partial.uri}`);
        findings.push(removed);
    }
    return findings;
}

function judge({ uri, writer }: PartialObject, tenantId: string): DoctorFinding {
    const finding = { kind: "partial-object", tenantId, name: uri } as const;
    if (!writer) {
        return {
            ...finding,
            state: "skipped",
            detail: "no writer recorded (an older version wrote it): remove it by hand once no backup of this tenant is running",
        };
    }
    if (writer.host !== os.hostname()) {
        return {
            ...finding,
            state: "skipped",
            detail: `written by process ${writer.pid} on host ${writer.host}: run doctor there to judge it`,
        };
    }
    if (processIsRunning(writer.pid)) return { ...finding, state: "in-use", detail: `its backup (process ${writer.pid}) is still running` };
    return { ...finding, state: "orphan", detail: `its backup (process ${writer.pid}) is gone` };
}

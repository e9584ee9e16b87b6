/**
 * `backup doctor`: what killed restores, drills and backups leave behind, and nothing else. A
 * restore killed mid-way leaves a full `erp_<id>_restore_<ts>` database (a drill, `..._drill_<ts>`),
 * the tenant's logins blocked, and with --jobs above 1 a temp folder holding the whole dump; a
 * killed file:// backup leaves a partial object. Doctor lists them and, with `fix`, undoes those
 * whose run is provably gone: databases and logins only while holding the tenant's restore lock,
 * a folder or partial object only when the process that wrote it has ended. Before-restore copies
 * are kept on purpose: they are listed with the command that drops them, never dropped here.
 */
import * as os from "node:os";
import * as path from "node:path";
import { BackupToolOptions, storeOf } from "./backup";
import { inspectServer } from "./doctor/databases";
import { DoctorFinding, FindingKind } from "./doctor/findings";
import { inspectPartialObjects } from "./doctor/partial-objects";
import { inspectTempFolders } from "./doctor/temp-folders";
import { TenantBackupError, describe } from "./errors";
import { TenantBackupTarget } from "./inventory";
import { StoreError } from "./store";

export type { DoctorFinding, FindingKind, FindingState } from "./doctor/findings";

export interface DoctorOptions extends BackupToolOptions {
    /** Remove the orphans found. Defaults to false: list only. */
    readonly fix?: boolean;
    /** The folder restores put their temp copies in (their --temp-dir). Defaults to the OS temp folder. */
    readonly tempDir?: string;
}

export interface DoctorReport {
    readonly fix: boolean;
    /** By tenant; per tenant scratch databases, blocked logins, temp folders, partial objects, then kept copies. */
    readonly findings: readonly DoctorFinding[];
    /** What could not be inspected (a server down, a store unreadable): each names what and the fix. */
    readonly problems: readonly Error[];
    /** Orphans still there: found without `fix`, or not removed with it. */
    readonly orphansLeft: number;
}

const KIND_ORDER: readonly FindingKind[] = ["scratch-database", "blocked-login", "temp-folder", "partial-object", "before-restore-copy"];

export async function doctor(targets: readonly TenantBackupTarget[], options: DoctorOptions = {}): Promise<DoctorReport> {
    const fix = options.fix ?? false;
    const log = options.log ?? (() => undefined);
    const findings: DoctorFinding[] = [];
    const problems: Error[] = [];

    const byServer = new Map<string, TenantBackupTarget[]>();
    for (const target of targets) byServer.set(target.server.name, [...(byServer.get(target.server.name) ?? []), target]);
    for (const group of byServer.values()) {
        const inspected = await inspectServer(group[0].server, group, fix, log);
        findings.push(...inspected.findings);
        problems.push(...inspected.problems);
    }

    const tempDir = path.resolve(options.tempDir ?? os.tmpdir());
    try {
        findings.push(...(await inspectTempFolders(tempDir, new Set(targets.map((t) => t.tenantId)), fix, log)));
    } catch (error) {
        problems.push(error as Error);
    }

    for (const target of targets) {
        const store = storeOf(target, options);
        try {
            findings.push(...(await inspectPartialObjects(store, target.tenantId, fix, log)));
        } catch (error) {
            problems.push(
                new TenantBackupError(
                    "unreachable",
                    target.tenantId,
                    target.server.name,
                    "list partial objects",
                    error instanceof StoreError ? error.problem : describe(error),
                    (error instanceof StoreError && error.fix) || `check that ${store.location} exists and is readable.`,
                    { cause: error },
                ),
            );
        }
    }

    findings.sort(
        (a, b) =>
            a.tenantId.localeCompare(b.tenantId) || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name),
    );
    const orphansLeft = findings.filter((f) => f.state === "orphan" || f.state === "failed").length;
    return { fix, findings, problems, orphansLeft };
}

/**
 * One restore or drill, phase by phase. Nothing is switched before everything is verified, and
 * however a run ends, the one cleanup undoes what it recorded: a failure before the switch drops
 * the half-restored database and leaves the live one exactly as it was.
 */
import { TenantBackupError, describe, withProblemAdded } from "../errors";
import { TenantBackupTarget } from "../inventory";
import { undoCreated } from "./cleanup";
import { RestoreMode, RestoreRun, beginRun } from "./context";
import { openDump } from "./download";
import { finishDrill, switchIn } from "./finish";
import { RestoreOptions, RestoreResult } from "./options";
import { runPgRestore } from "./pg-restore";
import { createScratchDatabase } from "./scratch-database";
import { chooseBackup } from "./select-backup";
import { quiesceTenant, reopenLogins } from "./quiesce";
import { openServerSession } from "./server-session";
import { verifyRestored } from "./verify";

export async function runRestore(target: TenantBackupTarget, options: RestoreOptions, mode: RestoreMode): Promise<RestoreResult> {
    const run = beginRun(target, options, mode);
    const outcome = await runPhases(run).then(
        (result) => ({ result }),
        (error: unknown) => ({
            failure: error instanceof TenantBackupError ? error : run.fail("database", mode, describe(error), undefined, error),
        }),
    );
    const stillBlocked = await reopenLogins(run.created.admin, run.created.quiesced);
    const unfinished = (await undoCreated(run.created)) + stillBlocked;
    if ("result" in outcome) {
        if (stillBlocked) run.log(`${run.tenantId}: warning:${stillBlocked}`);
        return outcome.result;
    }
    throw unfinished ? withProblemAdded(outcome.failure, unfinished) : outcome.failure;
}

async function runPhases(run: RestoreRun): Promise<RestoreResult> {
    const backup = await chooseBackup(run);
    const session = await openServerSession(backup);
    await quiesceTenant(session);
    const dump = await openDump(session);
    await createScratchDatabase(session);
    await runPgRestore(dump);
    const verified = await verifyRestored(session);
    return run.mode === "drill" ? finishDrill(session, verified) : switchIn(session, verified);
}

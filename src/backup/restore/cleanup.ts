/**
 * The one cleanup of a restore run: it undoes exactly what the run's `created` record holds,
 * newest first, however the run ended. Undoing something already finished (a download read to
 * its end, a pg_restore that has exited) is harmless, so phases need not forget those.
 */
import { rm } from "node:fs/promises";
import { describe } from "../errors";
import { Created } from "./context";
import { dropDatabase } from "./scratch-database";

const ignore = () => undefined;

/**
 * Undoes what `created` records. Returns, for the failure message, the sentences asking the
 * operator to drop the half-restored database or remove the temp folder when they could not be
 * removed, else "": those are the leftovers that need a person (or `backup doctor --fix`).
 */
export async function undoCreated(created: Created): Promise<string> {
    const { pgRestore, scratchDatabase, download, tempFolder, admin } = created;
    if (pgRestore) {
        pgRestore.child.kill("SIGTERM");
        await pgRestore.exited;
    }
    await closeScratchSession(created);
    let unfinished = "";
    if (scratchDatabase && admin) {
        try {
            await dropDatabase(admin, scratchDatabase);
        } catch (error) {
            unfinished = ` The half-restored database ${scratchDatabase} could not be dropped (${describe(error)}); drop it by hand.`;
        }
    }
    download?.destroy();
    if (tempFolder) {
        try {
            // The local copy is as large as the dump: leaving it would fill the temp disk for the next restore.
            await rm(tempFolder, { recursive: true, force: true });
            created.tempFolder = undefined;
        } catch (error) {
            unfinished += ` The temp folder ${tempFolder} could not be removed (${describe(error)}); remove it with: rm -r ${tempFolder}`;
        }
    }
    await admin?.end().catch(ignore);
    return unfinished;
}

/** The switch cannot rename a database that has sessions, so verification closes its own early. */
export async function closeScratchSession(created: Created): Promise<void> {
    await created.scratchSession?.end().catch(ignore);
    created.scratchSession = undefined;
}

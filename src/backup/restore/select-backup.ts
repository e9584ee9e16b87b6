/** Phase 1: which backup, and is it this tenant's? Only the store is read; the server is not touched yet. */
import { Fail, TenantBackupError, describe } from "../errors";
import { findBackups } from "../list";
import { BackupManifest, manifestAuthenticityProblem, manifestKey, parseManifest, tenantBackupPrefix } from "../manifest";
import { ManifestSigningKey } from "../signing";
import { BackupStore, StoreError } from "../store";
import { tenantNames } from "../../naming";
import { ChosenBackup, RestoreRun } from "./context";
import { foreignRolesInManifest } from "./foreign-roles";

export async function chooseBackup(run: RestoreRun): Promise<ChosenBackup> {
    const { store, tenantId, options, fail, signingKey } = run;
    const key = options.backup ? requestedKey(store, tenantId, options.backup) : await newestCompleteKey(run);
    const chosen = { ...run, key, manifest: await loadManifest(store, key, tenantId, fail, signingKey) };
    await checkDumpObject(chosen);
    const { manifest } = chosen;
    run.log(
        `${tenantId}: ${run.mode === "restore" ? "restoring" : "drilling"} ${key} ` +
            `(taken ${manifest.startedAt}, schema ${manifest.schemaVersion}) into ${run.scratch}`,
    );
    return chosen;
}

/**
 * The object key a `backup` option names: a key, a timestamp, or the full location a backup or a
 * suspension reported (`s3://<bucket>/<key>`, `file:///<root>/<key>`) in this tenant's store.
 */
function requestedKey(store: BackupStore, tenantId: string, backup: string): string {
    const root = store.location.slice(0, store.location.length - store.prefix.length);
    if (backup.startsWith(root)) return backup.slice(root.length);
    if (backup.includes("/")) return backup;
    return `${tenantBackupPrefix(store.prefix, tenantId)}${backup.replace(/\.dump$/, "")}.dump`;
}

async function newestCompleteKey({ store, tenantId, fail }: Pick<RestoreRun, "store" | "tenantId" | "fail">): Promise<string> {
    let backups;
    try {
        backups = await findBackups(store, tenantId);
    } catch (error) {
        throw storeUnreachable(fail, "list backups", store, "list", error);
    }
    const newest = backups.filter((entry) => entry.complete).at(-1);
    if (!newest) {
        throw fail(
            "missing",
            "find latest backup",
            `no complete backup under ${store.location}backups/${tenantId}/.`,
            `run a backup first: npm run backup -- ${tenantId}`,
        );
    }
    return newest.key;
}

/**
 * Reads and checks the manifest of `key`: it must exist, parse, be signed for this tenant
 * under `signingKey`, and describe this tenant's `key`.
 */
export function loadManifest(
    store: BackupStore,
    key: string,
    tenantId: string,
    fail: Fail,
    signingKey: ManifestSigningKey,
): Promise<BackupManifest> {
    return readManifest(store, key, tenantId, fail, signingKey);
}

/**
 * The cheap checks of a backup, with no download of the dump: its manifest (signed for this
 * tenant when `signingKey` is given, as `backup list` may run without one), and the dump object's
 * presence, tenant tag and size against the manifest. Throws the TenantBackupError a restore would.
 */
export async function inspectBackup(
    store: BackupStore,
    key: string,
    tenantId: string,
    fail: Fail,
    signingKey: ManifestSigningKey | undefined,
): Promise<BackupManifest> {
    const manifest = await readManifest(store, key, tenantId, fail, signingKey);
    await checkDumpObject({ store, key, manifest, tenantId, fail });
    return manifest;
}

/** The key a `backup` option names, or the newest complete backup's key when it names none. */
export async function resolveBackupKey(store: BackupStore, tenantId: string, backup: string | undefined, fail: Fail): Promise<string> {
    return backup ? requestedKey(store, tenantId, backup) : newestCompleteKey({ store, tenantId, fail });
}

async function readManifest(
    store: BackupStore,
    key: string,
    tenantId: string,
    fail: Fail,
    signingKey: ManifestSigningKey | undefined,
): Promise<BackupManifest> {
    const names = tenantNames(tenantId);
    let text: string;
    try {
        text = await store.getText(manifestKey(key));
    } catch (error) {
        if (error instanceof StoreError && error.reason === "missing") {
            const dump = await store.head(key).catch(() => undefined);
            if (dump) {
                throw fail(
                    "corrupt",
                    "read manifest",
                    `backup ${key} has no manifest ${manifestKey(key)}: the backup did not finish and cannot be verified.`,
                    "restore another backup (npm run backup -- list).",
                    error,
                );
            }
            throw fail(
                "missing",
                "read manifest",
                `backup ${store.location}${key.slice(store.prefix.length)} does not exist.`,
                `list this tenant's backups with: npm run backup -- list ${tenantId}`,
                error,
            );
        }
        throw storeUnreachable(fail, "read manifest", store, "read", error);
    }
    let manifest: BackupManifest;
    try {
        manifest = parseManifest(text);
    } catch (error) {
        throw fail("corrupt", "read manifest", `${manifestKey(key)}: ${describe(error)}.`, "restore another backup.", error);
    }
    if (manifest.tenantId !== tenantId || manifest.database !== names.database) {
        throw fail(
            "mismatch",
            "check manifest",
            `backup ${key} belongs to tenant ${manifest.tenantId} (database ${manifest.database}), ` +
                `not ${tenantId}; refusing to restore it.`,
            `pick one of this tenant's own backups: npm run backup -- list ${tenantId}`,
        );
    }
    // Before anything else in it is believed: its checksum, its counts, its objects. A foreign
    // tenant id is refused above unauthenticated: refusing is always safe.
    const forged = signingKey && manifestAuthenticityProblem(manifest, tenantId, signingKey);
    if (signingKey && forged) {
        throw fail(
            "corrupt",
            "authenticate manifest",
            `${manifestKey(key)}: ${forged}; refusing to restore it.`,
            manifest.signature.keyId !== signingKey.id
                ? `configure the key that signed this backup (key id ${manifest.signature.keyId}), or restore another backup.`
                : "restore another backup (npm run backup -- list), and treat the store as compromised: " +
                      "this manifest was written without the signing key.",
        );
    }
    const foreign = foreignRolesInManifest(names, manifest);
    if (foreign.length > 0) {
        throw fail(
            "mismatch",
            "check manifest",
            `backup ${key} records objects owned by or granted to roles of other tenants (${foreign.join(", ")}); ` +
                `a backup of another tenant is never restored into ${names.database}, whatever the options.`,
            `pick one of this tenant's own backups: npm run backup -- list ${tenantId}`,
        );
    }
    if (manifest.key !== key) {
        throw fail(
            "mismatch",
            "check manifest",
            `the manifest at ${manifestKey(key)} describes ${manifest.key}, not ${key}: the objects were copied or renamed.`,
            "restore a backup from where the backup job wrote it.",
        );
    }
    return manifest;
}

function storeUnreachable(fail: Fail, step: string, store: BackupStore, access: "list" | "read", error: unknown): TenantBackupError {
    return fail(
        "unreachable",
        step,
        describe(error),
        `check that ${store.location} exists and that these credentials may ${access} it.`,
        error,
    );
}

/** The dump object itself: there, tagged for this tenant (when tagged at all), and of the size the manifest records. */
async function checkDumpObject({
    store,
    key,
    manifest,
    tenantId,
    fail,
}: Pick<ChosenBackup, "store" | "key" | "manifest" | "tenantId" | "fail">): Promise<void> {
    let head;
    try {
        head = await store.head(key);
    } catch (error) {
        throw fail("unreachable", "inspect dump", describe(error), `check that ${store.location} is readable.`, error);
    }
    if (!head) {
        throw fail(
            "missing",
            "inspect dump",
            `the dump ${key} is missing although its manifest exists.`,
            "restore another backup (npm run backup -- list).",
        );
    }
    if (head.metadata.tenant !== undefined && head.metadata.tenant !== tenantId) {
        throw fail(
            "mismatch",
            "check dump metadata",
            `the dump ${key} is tagged tenant=${head.metadata.tenant}, not ${tenantId}; refusing to restore it.`,
            "pick one of this tenant's own backups.",
        );
    }
    if (head.size !== manifest.sizeBytes) {
        throw fail(
            "corrupt",
            "check dump size",
            `the dump ${key} has ${head.size} bytes but its manifest records ${manifest.sizeBytes} (truncated or replaced).`,
            "restore another backup.",
        );
    }
}

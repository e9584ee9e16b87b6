/**
 * A tenant never changes servers by a config edit, on the real engine: preview and up refuse the
 * edit with the move procedure named, and nothing happens on either server; once the tenant's
 * resources are released from the state (the procedure's step), the same edit deploys it on the
 * new server and the old database is still there.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { restoreTenant } from "../../src/backup/restore";
import { finalBackupFromInventory, InvalidRequestError, TenantdbClient } from "../../src/control";
import { releaseTenantResources } from "../../src/control/release";
import { runFleet } from "../../src/migrate/fleet";
import { targetsFromStackOutputs } from "../../src/migrate/targets";
import { LocalServer, startLocalServer } from "../../src/local/embedded-server";
import { tenantNames } from "../../src/naming";
import { startS3, s3Target, storeFor, testSigningKey } from "../backup/helpers";
import { catalogSnapshot } from "../support/catalog";
import { declaredTenantsConfig, dropDeclaredTenant, SERVER } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, STACK_RESOURCES, stackConfigOf } from "../support/engine";
import { testServer, withClient } from "../support/server";

const MOVED = "mv_acme";
const STAYING = "mv_globex";
const IDS = [MOVED, STAYING];
/** The second server: a PostgreSQL of its own. */
const OTHER = "other";
/** Per server: its provider, its ExternalServer component and the component's two maintenance grants. */
const PER_SERVER = STACK_RESOURCES - 1;
/** A tenant's resources on its server: all but its component and its three passwords. */
const ON_SERVER = RESOURCES_PER_TENANT - 4;

const BUCKET = "tenant-mv-globex";
const SEED = { companyName: "Globex", adminEmail: "admin@globex.test", adminPassword: "correct horse battery staple" };

const databases = (admin: { host: string; port: number; user: string; password: string }) =>
    withClient(admin, "postgres", async (client) =>
        (await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'erp_mv_%' ORDER BY 1")).rows.map((row) => row.datname),
    );

describe("Real engine: a tenant's server is not changed by a config edit", function () {
    this.timeout(300_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let root: string;
    let other: LocalServer;

    /** Both servers, each tenant on the one given. */
    function configWith(placement: Record<string, string>): ReturnType<typeof stackConfigOf> {
        const base = declaredTenantsConfig(
            testServer(),
            IDS.map((id) => ({ id, connectionLimit: 10 })),
        );
        const servers = base["tenantdb:servers"] as Record<string, Record<string, unknown>>;
        servers[OTHER] = { ...servers[SERVER], host: other.host, port: other.port, adminUser: other.user };
        const tenants = (base["tenantdb:tenants"] as { id: string }[]).map((tenant) => ({ ...tenant, server: placement[tenant.id] }));
        return stackConfigOf({
            ...base,
            "tenantdb:tenants": tenants,
            "tenantdb:serverPasswords": { [SERVER]: testServer().password, [OTHER]: other.password },
        });
    }

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-move-"));
        other = await startLocalServer({ dataDir: path.join(root, "pgdata") });
        project = EngineProject.create(engine);
        stack = await project.stack("dev", configWith({ [MOVED]: SERVER, [STAYING]: SERVER }));
        const up = await stack.up();
        assert.deepEqual(up.summary.resourceChanges, { create: 1 + 2 * PER_SERVER + 2 * RESOURCES_PER_TENANT });
    });

    after(async () => {
        project?.remove();
        await other?.stop();
        if (root) rmSync(root, { recursive: true, force: true });
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    /** The engine's diagnostic: the config error's lines, indented, and no stack trace. */
    const REFUSAL = [
        "tenantdb config has 1 problem:",
        `- tenantdb:tenants[0].server: tenant ${MOVED} is deployed on server "${SERVER}"; this config puts it on "${OTHER}", ` +
            `which would replace its database with an empty one. Undo the edit (server: ${SERVER}, and its plan if that changed too). ` +
            "A tenant changes servers only by the move procedure: suspend, back up, release it from the state, deploy it on the new " +
            'server, restore (README.md, "Moving a tenant to another server").',
    ];
    const diagnostics = (message: string) => message.split("\n").map((line) => line.trim());

    it("refuses the edit at preview and at up, naming the procedure, with nothing changed on either server or in the state", async () => {
        const before = await catalogSnapshot(testServer(), IDS, { passwords: "verifier" });
        const stateBefore = JSON.stringify((await stack.exportStack()).deployment.resources);
        project.writeConfig("dev", configWith({ [MOVED]: OTHER, [STAYING]: SERVER }).plain);

        for (const run of [() => stack.preview(), () => stack.up()]) {
            await assert.rejects(run(), (error: Error) => {
                const lines = diagnostics(error.message);
                // The diagnostics section, after the progress lines: `error: ` and the problem list.
                const at = lines.findLastIndex((line) => line === `error: ${REFUSAL[0]}`);
                assert.deepEqual(lines.slice(at, at + 2), [`error: ${REFUSAL[0]}`, REFUSAL[1]]);
                assert.doesNotMatch(error.message, /at module\.exports|index\.ts:\d+/);
                // The engine's own message for a protected replace tells the user to remove protection: it never comes.
                assert.doesNotMatch(error.message, /marked for protection/);
                return true;
            });
        }

        assert.deepEqual(await catalogSnapshot(testServer(), IDS, { passwords: "verifier" }), before);
        assert.deepEqual(await databases(other), []);
        assert.equal(JSON.stringify((await stack.exportStack()).deployment.resources), stateBefore);
    });

    it("deploys the tenant on the new server once it is released from the state, and drops nothing on the old one", async () => {
        // The procedure's release step: the tenant's server resources leave the state, the server keeps them.
        const passwordsBefore = (await stack.outputs()).tenantSecrets.value[MOVED];
        const exported = await stack.exportStack();
        const { deployment, released } = releaseTenantResources(exported.deployment, `tenant-${MOVED}`);
        assert.equal(released.length, ON_SERVER);
        assert.ok(released.every((urn) => urn.includes(`::tenant-${MOVED}`)));
        await stack.importStack({ ...exported, deployment });

        const up = await stack.up();
        // Created on the new server; the component and the passwords stay as they were.
        assert.deepEqual(up.summary.resourceChanges, {
            create: ON_SERVER,
            same: 1 + 2 * PER_SERVER + RESOURCES_PER_TENANT + (RESOURCES_PER_TENANT - ON_SERVER),
        });
        const outputs = await stack.outputs();
        const passwords = outputs.tenantSecrets.value[MOVED];
        assert.deepEqual(
            [passwords.appPassword, passwords.readonlyPassword, passwords.migratorPassword],
            [passwordsBefore.appPassword, passwordsBefore.readonlyPassword, passwordsBefore.migratorPassword],
        );
        assert.deepEqual(
            [outputs.tenants.value[MOVED].server, outputs.tenants.value[MOVED].port, outputs.tenants.value[STAYING].server],
            [OTHER, other.port, SERVER],
        );
        const names = tenantNames(MOVED);
        assert.deepEqual(await databases(other), [names.database]);
        // The old copy stays where it was until someone drops it on purpose.
        assert.deepEqual(await databases(testServer()), [names.database, tenantNames(STAYING).database]);
    });

    it("moves a tenant with its data: suspend with a final backup, move, restore there, resume; the old copy stays", async () => {
        const s3 = await startS3();
        try {
            await s3.createBucket(BUCKET);
            const names = tenantNames(STAYING);
            const deployed = await stack.outputs();
            const migrated = await runFleet(
                targetsFromStackOutputs({ tenants: deployed.tenants.value, tenantSecrets: deployed.tenantSecrets.value }),
                { mode: "up", only: [STAYING], seed: { [STAYING]: SEED } },
            );
            assert.deepEqual(
                migrated.tenants.map((t) => [t.tenantId, t.outcome]),
                [[STAYING, "ok"]],
            );
            const asApp = (host: string, port: number, password: string) => ({ host, port, user: names.appRole, password });
            await withClient(
                asApp(testServer().host, testServer().port, deployed.tenantSecrets.value[STAYING].appPassword),
                names.database,
                (c) => c.query("INSERT INTO masters.units (code, name, kind) VALUES ('moved', 'Moved with its tenant', 'count')"),
            );
            const client = new TenantdbClient({
                workDir: project.dir,
                actor: "ci",
                env: project.env,
                pulumiBinDir: project.engine.binDir,
                finalBackup: finalBackupFromInventory(
                    { s3: {}, tenants: [s3Target(STAYING, BUCKET)] },
                    { storeFor: storeFor(s3), signingKey: testSigningKey },
                ),
            });

            await assert.rejects(
                client.move("dev", STAYING, { to: OTHER }),
                new InvalidRequestError(
                    "state",
                    `tenant ${STAYING} is active; suspend it first (tenants suspend ${STAYING}: a verified final backup, then logins off), so that nothing is written after the backup you will restore on the new server`,
                ),
            );
            const suspended = await client.suspend("dev", STAYING);
            const moved = await client.move("dev", STAYING, { to: OTHER });
            assert.deepEqual(moved, { tenantId: STAYING, from: SERVER, to: OTHER, released: ON_SERVER });
            // Called again (as after an interruption): nothing left to release, nothing to change.
            assert.deepEqual(await client.move("dev", STAYING, { to: OTHER }), { tenantId: STAYING, from: OTHER, to: OTHER, released: 0 });

            const target = {
                ...s3Target(STAYING, BUCKET),
                server: {
                    name: OTHER,
                    host: other.host,
                    port: other.port,
                    user: other.user,
                    password: other.password,
                    ssl: "disable" as const,
                },
            };
            const restored = await restoreTenant(target, { storeFor: storeFor(s3), signingKey: testSigningKey, backup: suspended.backup });
            assert.equal(restored.database, names.database);
            await client.resume("dev", STAYING);

            const after = await stack.outputs();
            assert.deepEqual([after.tenants.value[STAYING].server, after.tenants.value[STAYING].port], [OTHER, other.port]);
            const units = (config: ReturnType<typeof asApp>) =>
                withClient(config, names.database, async (c) =>
                    (await c.query("SELECT name FROM masters.units WHERE code = 'moved'")).rows.map((row) => row.name),
                );
            assert.deepEqual(await units(asApp(other.host, other.port, after.tenantSecrets.value[STAYING].appPassword)), [
                "Moved with its tenant",
            ]);
            // The old copy is still on the old server, with the data, until someone drops it.
            assert.deepEqual(
                await withClient(testServer(), names.database, async (c) =>
                    (await c.query("SELECT name FROM masters.units WHERE code = 'moved'")).rows.map((row) => row.name),
                ),
                ["Moved with its tenant"],
            );
        } finally {
            await s3.stop();
        }
    });
});

/**
 * The control API (src/control/) on the real engine and server: deploy, concurrent and
 * repeated provisioning, a provision racing an `up` outside tenantdb, a caller killed while
 * holding the lease, and the whole lifecycle (suspend, resume, retire) with its refusals.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parse as parseYaml } from "yaml";
import { ConflictError, ControlEvent, EngineError, InvalidRequestError, TenantdbClient, finalBackupFromInventory } from "../../src/control";
import { tenantNames } from "../../src/naming";
import { S3Fixture, s3Target, startS3, storeFor, testSigningKey } from "../backup/helpers";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, STACK_RESOURCES, stackConfigOf } from "../support/engine";
import { testServer, withClient } from "../support/server";

const FIRST = [{ id: "ctl_acme", connectionLimit: 20 }];
const BURST = Array.from({ length: 10 }, (_, i) => `ctl_new${i}`);
const LIFECYCLE = "ctl_acme";
const IDS = [...FIRST.map((t) => t.id), ...BURST, "ctl_outside", "ctl_late"];
const MIGRATIONS = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];
const BUCKET = "tenant-ctl-acme";
const seed = (name: string) => ({
    companyName: `${name} Ltd`,
    adminEmail: `admin@${name.toLowerCase().replace(/_/g, "-")}.test`,
    adminPassword: "correct horse battery staple",
});

const companies = (tenantId: string) =>
    withClient(testServer(), tenantNames(tenantId).database, async (client) =>
        (await client.query("SELECT name FROM core.companies ORDER BY 1")).rows.map((r) => r.name as string),
    );

/** Tenants whose component is in the stack's state. */
async function tenantsInState(stack: automation.Stack): Promise<string[]> {
    const { deployment } = await stack.exportStack();
    return (deployment.resources as { type: string; urn: string }[])
        .filter((r) => r.type === "tenantdb:index:TenantDatabase")
        .map((r) => r.urn.split("::tenant-").pop()!)
        .sort();
}

/**
 * How long a killed holder's lease lives on. Long enough that, even on a loaded machine, the
 * next caller finds it still fresh and has to wait for it to go stale, which is what is tested.
 */
const STALE_MS = 8000;

describe("Real engine: the control API", function () {
    this.timeout(600_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let s3: S3Fixture;
    let client: TenantdbClient;
    const events: ControlEvent[] = [];
    const stackFile = () =>
        parseYaml(readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8")).config["tenantdb:tenants"] as Record<string, unknown>[];
    const updates = async () => (await stack.history()).length;
    const clientOptions = () => ({
        workDir: project.dir,
        actor: "portal:alice",
        env: project.env,
        pulumiBinDir: project.engine.binDir,
        lease: { waitMs: 300_000, staleMs: STALE_MS },
        finalBackup: finalBackupFromInventory(
            { s3: {}, tenants: [s3Target(LIFECYCLE, BUCKET)] },
            { storeFor: storeFor(s3), signingKey: testSigningKey },
        ),
    });

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        const config = declaredTenantsConfig(testServer(), FIRST);
        // Room for the tenants the tests provision (50 connections each by default).
        const servers = config["tenantdb:servers"] as Record<string, Record<string, unknown>>;
        servers.local = { ...servers.local, maxConnections: 1000 };
        stack = await project.stack("dev", stackConfigOf(config));
        s3 = await startS3();
        await s3.createBucket(BUCKET);
        client = new TenantdbClient({ ...clientOptions(), onEvent: (event) => events.push(event) });
    });

    after(async () => {
        project?.remove();
        await s3?.stop();
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    it("lets the engine name a stack that does not exist", async () => {
        const error = await client.deploy("no-such-stack").catch((e: unknown) => e);
        assert.ok(error instanceof EngineError);
        assert.match(error.message, /^pulumi stack select of stack no-such-stack failed:\n.*no stack named 'no-such-stack' found/);
    });

    it("deploy: up, then every tenant migrated and seeded", async () => {
        const { summary, migrations } = await client.deploy("dev", { seed: { ctl_acme: seed("Acme") } });
        assert.deepEqual(summary.resourceChanges, { create: STACK_RESOURCES + RESOURCES_PER_TENANT });
        assert.deepEqual(
            migrations.tenants.map((t) => [t.tenantId, t.outcome, t.applied]),
            [["ctl_acme", "ok", MIGRATIONS]],
        );
        assert.deepEqual(await companies("ctl_acme"), ["Acme Ltd"]);
    });

    it("suspend, resume, retire: each transition recorded, each refusal before anything changes", async () => {
        const names = tenantNames(LIFECYCLE);
        const database = () =>
            withClient(testServer(), "postgres", async (c) =>
                (await c.query("SELECT datconnlimit FROM pg_database WHERE datname = $1", [names.database])).rows.map(
                    (r) => r.datconnlimit as number,
                ),
            );
        const canLogin = () =>
            withClient(testServer(), "postgres", async (c) =>
                (
                    await c.query("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1", [
                        [names.appRole, names.migratorRole, names.readonlyRole],
                    ])
                ).rows.map((r) => `${r.rolname}=${r.rolcanlogin}`),
            );

        await assert.rejects(
            client.resume("dev", LIFECYCLE),
            /state: tenant ctl_acme is active; resume applies to a tenant that is suspended/,
        );
        const suspended = await client.suspend("dev", LIFECYCLE, { reason: "unpaid" });
        assert.equal(suspended.state, "suspended");
        assert.match(suspended.backup!, /^s3:\/\/tenant-ctl-acme\/backups\/ctl_acme\/\d{8}T\d{6}\.\d{3}Z\.dump$/);
        assert.deepEqual(await database(), [0]);
        assert.deepEqual(await canLogin(), [`${names.appRole}=false`, `${names.migratorRole}=false`, `${names.readonlyRole}=false`]);
        assert.deepEqual(await companies(LIFECYCLE), ["Acme Ltd"]);

        await client.resume("dev", LIFECYCLE);
        assert.deepEqual(await database(), [20]);
        assert.deepEqual(await canLogin(), [`${names.appRole}=true`, `${names.migratorRole}=true`, `${names.readonlyRole}=true`]);

        await client.suspend("dev", LIFECYCLE);
        await assert.rejects(
            client.retire("dev", LIFECYCLE),
            /overrideRetention: tenant ctl_acme was suspended at .*; its backups are kept 30 days/,
        );
        await assert.rejects(
            client.retire("dev", LIFECYCLE, { overrideRetention: "ctl_new0" }),
            /overrideRetention: names "ctl_new0", not the tenant being retired/,
        );
        assert.deepEqual(await companies(LIFECYCLE), ["Acme Ltd"]);

        const retired = await client.retire("dev", LIFECYCLE, { overrideRetention: LIFECYCLE, reason: "GDPR erasure request" });
        assert.equal(retired.state, "erased");
        assert.deepEqual(await database(), []);
        const roles = await withClient(
            testServer(),
            "postgres",
            async (c) => (await c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`${names.database}\\_%`])).rows,
        );
        assert.deepEqual(roles, []);
        // Gone from the state; every other tenant of the stack file is still there.
        assert.deepEqual(
            await tenantsInState(stack),
            stackFile()
                .filter((t) => t.state !== "erased")
                .map((t) => t.id as string)
                .sort(),
        );

        const entry = stackFile().find((t) => t.id === LIFECYCLE)!;
        assert.equal(entry.state, "erased");
        const history = entry.history as { state: string; by: string; at: string; reason?: string; backup?: string }[];
        assert.deepEqual(
            history.map((h) => [h.state, h.by, h.reason]),
            [
                ["suspended", "portal:alice", "unpaid"],
                ["active", "portal:alice", undefined],
                ["suspended", "portal:alice", undefined],
                ["retired", "portal:alice", "GDPR erasure request"],
                ["erased", "portal:alice", "GDPR erasure request"],
            ],
        );
        assert.ok(history.every((h) => !Number.isNaN(Date.parse(h.at))));
        await assert.rejects(
            client.suspend("dev", LIFECYCLE),
            /state: tenant ctl_acme is erased; suspend applies to a tenant that is active/,
        );
        // The other tenants are untouched, and the stack converges.
        const again = await stack.up({ expectNoChanges: true });
        assert.equal(again.summary.result, "succeeded");
    });

    it("provision: ten concurrent calls and a repeated one give ten tenants, in one targeted update", async () => {
        const before = await updates();
        const calls = [...BURST, BURST[3]].map((id) => client.provision("dev", { id }, { seed: seed(id) }));
        const results = await Promise.all(calls);
        assert.deepEqual(
            results.map((r) => [r.tenantId, r.server, r.created]),
            [...BURST.map((id) => [id, "local", true]), [BURST[3], "local", false]],
        );
        assert.deepEqual(
            stackFile().map((t) => t.id),
            ["ctl_acme", ...BURST],
        );
        // ctl_acme was erased by the lifecycle test: in the file as the record, gone from the state.
        assert.deepEqual(await tenantsInState(stack), [...BURST].sort());
        assert.equal(await updates(), before + 1);
        const [last] = await stack.history(1);
        // A targeted update counts every untargeted resource as the same, without diffing it.
        assert.deepEqual(last.resourceChanges, {
            create: BURST.length * RESOURCES_PER_TENANT,
            same: STACK_RESOURCES,
        });
        assert.deepEqual(
            results[0].migrations.tenants.map((t) => [t.tenantId, t.outcome]),
            BURST.map((id) => [id, "ok"]),
        );
        assert.deepEqual(await companies(BURST[9]), [`${BURST[9]} Ltd`]);
    });

    it("provision: the same id with other settings is a conflict, and a bad request names its field", async () => {
        await assert.rejects(client.provision("dev", { id: BURST[0], connectionLimit: 30 }), ConflictError);
        const invalid = await client.provision("dev", { id: "Bad-Id" }).catch((e: unknown) => e);
        assert.ok(invalid instanceof InvalidRequestError);
        assert.equal(invalid.field, "request.id");
        assert.deepEqual(
            stackFile().map((t) => t.id),
            ["ctl_acme", ...BURST],
        );
    });

    it("provision: races a hand edit deployed by an up outside tenantdb, waits for its engine lock, and both tenants land", async () => {
        // The outside up creates a database: the provider then waits for an advisory lock on its admin
        // role, which this session holds, so that up keeps the engine's stack lock until released.
        await withClient(testServer(), "postgres", async (blocker) => {
            await blocker.query("SELECT pg_advisory_lock(oid::bigint) FROM pg_roles WHERE rolname = current_user");
            const config = parseYaml(readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8")).config;
            project.writeConfig("dev", {
                "tenantdb:tenants": [...config["tenantdb:tenants"], { id: "ctl_outside", server: "local", connectionLimit: 20 }],
            });
            const outside = await automation.LocalWorkspace.selectStack(
                { stackName: "dev", workDir: project.dir },
                { envVars: project.env, pulumiCommand: await project.command() },
            );
            let outsideError: unknown;
            const running = outside.up().catch((error: unknown) => (outsideError = error));
            const locks = path.join(project.root, "state", ".pulumi", "locks");
            while (!existsSync(locks) || !readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json"))) await sleep(50);

            let released = false;
            const release = () => {
                if (released) return;
                released = true;
                void blocker.query("SELECT pg_advisory_unlock_all()");
            };
            const racing = new TenantdbClient({ ...clientOptions(), onEvent: (e) => e.kind === "engine-locked" && release() });
            const result = await racing.provision("dev", { id: "ctl_late" }, { seed: seed("Late") });
            await running;
            assert.equal(outsideError, undefined);
            assert.equal(released, true, "the provision found the engine's lock held and waited");
            assert.equal(result.created, true);
        });
        assert.deepEqual(
            stackFile()
                .map((t) => t.id)
                .slice(-2),
            ["ctl_outside", "ctl_late"],
        );
        assert.deepEqual(await companies("ctl_late"), ["Late Ltd"]);
        assert.deepEqual(
            (await tenantsInState(stack)).filter((id) => id === "ctl_outside" || id === "ctl_late"),
            ["ctl_late", "ctl_outside"],
        );
    });

    it("provision: takes over the lease of a caller killed while holding it", async () => {
        const holder = spawn(
            process.execPath,
            ["--import", "tsx", path.join(__dirname, "../control/support/hold-lease.ts"), project.dir, "dev", String(STALE_MS)],
            { stdio: ["ignore", "pipe", "inherit"] },
        );
        await new Promise<void>((resolve) => holder.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("held") && resolve()));
        holder.kill("SIGKILL");
        events.length = 0;
        const result = await client.provision("dev", { id: BURST[0] });
        assert.equal(result.created, false);
        assert.deepEqual(
            events.filter((e) => e.kind === "waiting").map((e) => (e as { holder?: string }).holder?.split(",")[0]),
            ["test:doomed: provision doomed"],
        );
    });
});

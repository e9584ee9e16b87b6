/**
 * tenantdb serve on the real engine and server, the service run as its own process
 * (`node --import tsx scripts/serve.ts`), as production runs it: 20 simultaneous provision
 * requests with duplicates and idempotency keys, then a kill -9 of the service while a
 * provision job runs, and a restart. One stack, few engine updates.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parse as parseYaml } from "yaml";
import { freePort } from "../../src/local/embedded-server";
import { tenantNames } from "../../src/naming";
import { auditTrail } from "../../src/serve/audit";
import { INTERRUPTED } from "../../src/serve/jobs";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, stackConfigOf } from "../support/engine";
import { testServer, withClient } from "../support/server";
import { call, dropControlDatabase, freshControlDatabase, REPO_ROOT, settled, tokenFor, withPool } from "../serve/support";

const DATABASE = "serve_engine";
const TENANTS = Array.from({ length: 8 }, (_, i) => `srv_t${i}`);
const KILLED = "srv_killed";
const IDS = [...TENANTS, KILLED];
const LEASE_STALE_MS = 4000;
const seed = (id: string) => ({
    companyName: `${id} Ltd`,
    adminEmail: `admin@${id.replace(/_/g, "-")}.test`,
    adminPassword: "correct horse battery staple",
});

/** Tenant databases on the server, by name. */
const databases = () =>
    withClient(testServer(), "postgres", async (client) =>
        (await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'erp\\_srv\\_%' ORDER BY 1")).rows.map(
            (r) => r.datname as string,
        ),
    );

describe("Real engine: tenantdb serve", function () {
    this.timeout(600_000);
    let project: EngineProject;
    let url: string;
    let token: string;
    let service: ChildProcess | undefined;
    let base: string;
    const stackFileIds = () =>
        (parseYaml(readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8")).config["tenantdb:tenants"] as { id: string }[]).map(
            (t) => t.id,
        );

    /** Starts the service as a process of its own and waits until it answers. */
    async function start(): Promise<void> {
        const port = await freePort();
        base = `http://127.0.0.1:${port}`;
        const args = ["--import", "tsx", "scripts/serve.ts", "--work-dir", project.dir, "--stack", "dev", "--port", String(port)];
        const child = spawn(process.execPath, [...args, "--lease-stale-seconds", String(LEASE_STALE_MS / 1000), "--actor", "serve:test"], {
            cwd: REPO_ROOT,
            env: {
                ...process.env,
                ...project.env,
                TENANTDB_ENGINE_BIN: project.engine.binDir,
                TENANTDB_CONTROL_DATABASE_URL: url,
                TENANTDB_SERVE_LOG_LEVEL: "error",
            },
            stdio: ["ignore", "inherit", "inherit"],
        });
        service = child;
        for (;;) {
            if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
            if (
                await fetch(`${base}/openapi.json`).then(
                    (r) => r.ok,
                    () => false,
                )
            )
                return;
            await sleep(100);
        }
    }

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        const config = declaredTenantsConfig(testServer(), []);
        const servers = config["tenantdb:servers"] as Record<string, Record<string, unknown>>;
        servers.local = { ...servers.local, maxConnections: 1000, capacity: 100 };
        await project.stack("dev", stackConfigOf(config));
        url = await freshControlDatabase(DATABASE);
        token = await tokenFor(url, "portal", ["read", "provision", "offboard"]);
        await start();
    });

    after(async () => {
        service?.kill("SIGKILL");
        project?.remove();
        await dropControlDatabase(DATABASE);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    it("20 simultaneous provision requests: one job per key, one tenant per id, each database once", async () => {
        // 8 tenants once each (requests 0-7); 6 of them again with the same key (8-13: the same
        // job); 6 again with a new key (14-19: a second job, which finds the tenant there, created
        // false). srv_t2 to srv_t5 are sent three times.
        const requests = [
            ...TENANTS.map((id) => ({ id, key: `provision-${id}-a` })),
            ...TENANTS.slice(0, 6).map((id) => ({ id, key: `provision-${id}-a` })),
            ...TENANTS.slice(2, 8).map((id) => ({ id, key: `provision-${id}-b` })),
        ];
        const answers = await Promise.all(
            requests.map((r) =>
                call(base, "POST", "/v1/tenants", { token, key: r.key, json: { id: r.id, connectionLimit: 10, seed: seed(r.id) } }),
            ),
        );
        assert.deepEqual(
            answers.map((a) => a.status),
            Array(20).fill(202),
        );
        const jobOf = (i: number) => (answers[i].body as { id: string }).id;
        const jobIds = new Set(answers.map((_, i) => jobOf(i)));
        assert.equal(jobIds.size, 14);
        assert.equal(answers.filter((a) => a.headers.get("idempotent-replayed") === "true").length, 6);
        for (let i = 0; i < 6; i++) assert.equal(jobOf(8 + i), jobOf(i), "same key, same job");
        for (let i = 2; i < 8; i++) assert.notEqual(jobOf(12 + i), jobOf(i), "new key, new job");

        const jobs = await Promise.all([...jobIds].map((id) => settled(base, token, id, 400_000)));
        assert.deepEqual(
            jobs.map((j) => j.state),
            Array(14).fill("succeeded"),
        );
        const results = jobs.map(
            (j) => j.result as { tenantId: string; created: boolean; server: string; migrations: { outcome: string } },
        );
        assert.equal(results.filter((r) => r.created).length, 8);
        assert.equal(results.filter((r) => !r.created).length, 6);
        assert.deepEqual([...new Set(results.filter((r) => r.created).map((r) => r.tenantId))].sort(), [...TENANTS].sort());
        assert.deepEqual(
            results
                .filter((r) => !r.created)
                .map((r) => r.tenantId)
                .sort(),
            TENANTS.slice(2, 8),
        );
        assert.deepEqual(new Set(results.map((r) => r.server)), new Set(["local"]));

        assert.deepEqual(stackFileIds().sort(), [...TENANTS].sort());
        assert.deepEqual(await databases(), TENANTS.map((id) => tenantNames(id).database).sort());
        const companies = await withClient(testServer(), tenantNames(TENANTS[7]).database, async (c) =>
            (await c.query("SELECT name FROM core.companies")).rows.map((r) => r.name as string),
        );
        assert.deepEqual(companies, [`${TENANTS[7]} Ltd`]);

        const rows = await withPool(
            url,
            async (pool) => (await pool.query("SELECT count(*)::int AS n, count(started_at)::int AS started FROM jobs")).rows[0],
        );
        assert.deepEqual(rows, { n: 14, started: 14 });
        const trail = await withPool(url, auditTrail);
        assert.deepEqual(
            trail.map((e) => [e.who, e.status, e.jobState]),
            Array(20).fill(["portal", 202, "succeeded"]),
        );

        const tenant = (await call(base, "GET", `/v1/tenants/${TENANTS[0]}`, { token })).body as Record<string, unknown>;
        assert.deepEqual(
            [tenant.state, tenant.server, tenant.stack, tenant.cell, tenant.connectionLimit, tenant.schemaVersion],
            ["active", "local", "dev", null, 10, { value: "0004_credentials_withheld", reason: null }],
        );
        const connection = await call(base, "GET", `/v1/tenants/${TENANTS[0]}/connection`, { token });
        assert.equal(connection.headers.get("cache-control"), "no-store");
        const { connectionString, role } = connection.body as { connectionString: string; role: string };
        assert.equal(role, tenantNames(TENANTS[0]).appRole);
        await withClient({ connectionString }, tenantNames(TENANTS[0]).database, async (c) =>
            assert.deepEqual((await c.query("SELECT current_user AS who")).rows, [{ who: role }]),
        );
    });

    it("a preview of a new tenant: a job whose result says what would be created; nothing changes", async () => {
        const before = readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8");
        const accepted = await call(base, "POST", "/v1/previews", {
            token,
            key: "preview-srv-preview-1",
            json: { action: "provision", tenant: { id: "srv_preview", connectionLimit: 10 } },
        });
        assert.equal(accepted.status, 202);
        const job = await settled(base, token, (accepted.body as { id: string }).id, 300_000);
        assert.equal(job.state, "succeeded", JSON.stringify(job.error));
        const preview = job.result as {
            stack: string;
            blocked: boolean;
            problems: string[];
            unchanged: string[];
            tenants: {
                tenantId: string;
                state: string;
                infrastructure: { counts: Record<string, number> };
                migrations: { status: string };
            }[];
        };
        assert.deepEqual([preview.stack, preview.blocked, preview.problems], ["dev", false, []]);
        assert.deepEqual(
            preview.tenants.map((t) => [t.tenantId, t.state, t.infrastructure.counts.create, t.migrations.status]),
            [["srv_preview", "active", RESOURCES_PER_TENANT, "new"]],
        );
        // The tenants provisioned above: nothing to create or migrate, and their (unpriced) server's share is no change.
        assert.deepEqual(preview.unchanged, [...TENANTS].sort());
        assert.equal(readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8"), before);
        assert.ok(!(await databases()).includes(tenantNames("srv_preview").database));
    });

    it("kill -9 while a provision job runs: after the restart it reads interrupted and is never run again; a new key completes the tenant", async () => {
        // A caller holds the stack's lease, so the job is running (started, inside the control API)
        // and waiting when the service is killed: nothing of it reached the stack file or the engine.
        const holder = spawn(
            process.execPath,
            ["--import", "tsx", path.join(REPO_ROOT, "test/control/support/hold-lease.ts"), project.dir, "dev", String(LEASE_STALE_MS)],
            { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] },
        );
        await new Promise<void>((resolve) => holder.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("held") && resolve()));
        const accepted = await call(base, "POST", "/v1/tenants", {
            token,
            key: "provision-killed-1",
            json: { id: KILLED, connectionLimit: 10, seed: seed(KILLED) },
        });
        assert.equal(accepted.status, 202);
        const jobId = (accepted.body as { id: string }).id;
        const eventsOf = () =>
            withPool(url, async (pool) =>
                (await pool.query("SELECT event FROM job_events WHERE job = $1 ORDER BY seq", [jobId])).rows.map((r) => r.event),
            );
        while (!(await eventsOf()).some((e) => e.type === "waiting")) await sleep(50);
        const running = (await call(base, "GET", `/v1/jobs/${jobId}`, { token })).body as { state: string; startedAt: string };
        assert.equal(running.state, "running");

        service!.kill("SIGKILL");
        await new Promise((resolve) => service!.once("exit", resolve));
        holder.kill("SIGKILL");
        await start();

        const after = (await call(base, "GET", `/v1/jobs/${jobId}`, { token })).body as Record<string, unknown>;
        assert.deepEqual([after.state, after.error, after.startedAt, after.result], ["interrupted", INTERRUPTED, running.startedAt, null]);
        assert.deepEqual(
            (await eventsOf()).map((e) => [e.type, e.state ?? null]),
            [
                ["state", "queued"],
                ["state", "running"],
                ["waiting", null],
                ["state", "interrupted"],
            ],
        );
        assert.ok(!stackFileIds().includes(KILLED));

        const again = await call(base, "POST", "/v1/tenants", {
            token,
            key: "provision-killed-2",
            json: { id: KILLED, connectionLimit: 10, seed: seed(KILLED) },
        });
        const done = await settled(base, token, (again.body as { id: string }).id, 300_000);
        assert.equal(done.state, "succeeded", JSON.stringify(done.error));
        assert.equal((done.result as { created: boolean }).created, true);
        assert.ok((await databases()).includes(tenantNames(KILLED).database));

        // The interrupted job stayed as it was: started once, never run again.
        const jobs = await withPool(
            url,
            async (pool) =>
                (await pool.query("SELECT id, state, started_at FROM jobs WHERE tenant = $1 ORDER BY created_at", [KILLED])).rows,
        );
        assert.deepEqual(
            jobs.map((j) => [j.id, j.state, (j.started_at as Date).toISOString()]),
            [
                [jobId, "interrupted", running.startedAt],
                [done.id, "succeeded", done.startedAt],
            ],
        );
        assert.equal((await eventsOf()).filter((e) => e.state === "running").length, 1);
    });
});

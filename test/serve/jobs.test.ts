/**
 * tenantdb serve: jobs without the engine. Idempotency keys (same key, same job; same key,
 * another body, 422; concurrent duplicates, one job), a failed job's problem, secrets kept out
 * of every record, server-sent events, the restart rule (a job left running reads interrupted
 * and never runs again; a queued one runs) and one service per control database. Operations
 * here fail fast before the engine (no final backup configured, an unknown server).
 */
import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { auditTrail } from "../../src/serve/audit";
import { INTERRUPTED, NOT_STARTED } from "../../src/serve/jobs";
import type { RunningService } from "../../src/serve/service";
import {
    call,
    dropControlDatabase,
    freshControlDatabase,
    projectWithDevStack,
    readText,
    serve,
    settled,
    tokenFor,
    withPool,
} from "./support";

const DATABASE = "serve_jobs";
const PASSWORD = "correct horse battery staple 7f3a";
const NO_FINAL_BACKUP = {
    type: "urn:tenantdb:problem:invalid-request",
    title: "The request cannot be carried out",
    status: 422,
    detail: "finalBackup: suspending needs a verified final backup: give the client a finalBackup (backup inventory) so it can take one",
    errors: [
        {
            field: "finalBackup",
            message: "suspending needs a verified final backup: give the client a finalBackup (backup inventory) so it can take one",
        },
    ],
};

/** The events of a job's stream, read to its end. */
async function streamed(base: string, token: string, jobId: string, lastEventId?: string) {
    const response = await fetch(`${base}/v1/jobs/${jobId}/events`, {
        headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
    });
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const text = await response.text();
    return text
        .split("\n\n")
        .filter((block) => block.startsWith("id: "))
        .map((block) => {
            const [id, event, data] = block.split("\n");
            const { at, ...rest } = JSON.parse(data.slice("data: ".length)) as Record<string, unknown>;
            assert.ok(!Number.isNaN(Date.parse(at as string)));
            return { id: Number(id.slice(4)), event: event.slice(7), data: rest };
        });
}

describe("tenantdb serve: jobs, idempotency and restarts (no engine)", function () {
    this.timeout(60_000);
    let url: string;
    let project: ReturnType<typeof projectWithDevStack>;
    let service: RunningService;
    let portal: string;
    let other: string;
    let original: string;

    before(async () => {
        url = await freshControlDatabase(DATABASE);
        project = projectWithDevStack();
        original = readText(project.stackFile);
        service = await serve(url, project.dir);
        portal = await tokenFor(url, "portal", ["read", "provision", "offboard"]);
        other = await tokenFor(url, "backoffice", ["read", "provision", "offboard"]);
    });

    after(async () => {
        await service?.close();
        project?.remove();
        await dropControlDatabase(DATABASE);
    });

    it("one key, one job: 202 and Location, the same again on a replay, 422 for another body; keys are per token", async () => {
        const first = await call(service.url, "POST", "/v1/tenants/acme/suspend", {
            token: portal,
            key: "suspend-acme-1",
            json: { reason: "unpaid" },
        });
        assert.equal(first.status, 202);
        const job = first.body as Record<string, unknown>;
        assert.equal(first.headers.get("location"), `/v1/jobs/${job.id as string}`);
        assert.equal(first.headers.get("idempotent-replayed"), null);
        assert.deepEqual(
            [job.kind, job.tenant, job.stack, job.state, job.request, job.result, job.error, job.createdBy, job.startedAt, job.finishedAt],
            ["suspend", "acme", "dev", "queued", { reason: "unpaid" }, null, null, "portal", null, null],
        );
        const done = await settled(service.url, portal, job.id as string);
        assert.deepEqual([done.state, done.error, done.result], ["failed", NO_FINAL_BACKUP, null]);

        const replay = await call(service.url, "POST", "/v1/tenants/acme/suspend", {
            token: portal,
            key: "suspend-acme-1",
            json: { reason: "unpaid" },
        });
        assert.equal(replay.status, 202);
        assert.equal(replay.headers.get("location"), `/v1/jobs/${job.id as string}`);
        assert.equal(replay.headers.get("idempotent-replayed"), "true");
        assert.deepEqual(replay.body, done);

        const changed = await call(service.url, "POST", "/v1/tenants/acme/suspend", {
            token: portal,
            key: "suspend-acme-1",
            json: { reason: "other" },
        });
        assert.deepEqual(
            [changed.status, changed.body],
            [
                422,
                {
                    type: "urn:tenantdb:problem:idempotency-key-reused",
                    title: "Idempotency key already used for another request",
                    status: 422,
                    detail: "This Idempotency-Key was used with a different request; use a new key for a new operation.",
                    instance: "/v1/tenants/acme/suspend",
                    errors: [{ field: "headers.idempotency-key", message: "was already used with a different request" }],
                },
            ],
        );
        const elsewhere = await call(service.url, "POST", "/v1/tenants/globex/suspend", {
            token: portal,
            key: "suspend-acme-1",
            json: { reason: "unpaid" },
        });
        assert.equal(elsewhere.status, 422, "the same key on another tenant is another request");

        const otherToken = await call(service.url, "POST", "/v1/tenants/acme/suspend", {
            token: other,
            key: "suspend-acme-1",
            json: { reason: "unpaid" },
        });
        assert.equal(otherToken.status, 202);
        assert.notEqual((otherToken.body as { id: string }).id, job.id);
        await settled(service.url, other, (otherToken.body as { id: string }).id);
    });

    it("twelve concurrent requests with one key make one job", async () => {
        const answers = await Promise.all(
            Array.from({ length: 12 }, () =>
                call(service.url, "POST", "/v1/tenants/initech/suspend", { token: portal, key: "suspend-initech-1", json: {} }),
            ),
        );
        assert.deepEqual(
            answers.map((a) => a.status),
            Array(12).fill(202),
        );
        const ids = new Set(answers.map((a) => (a.body as { id: string }).id));
        assert.equal(ids.size, 1);
        assert.equal(answers.filter((a) => a.headers.get("idempotent-replayed") === null).length, 1);
        const [id] = ids;
        await settled(service.url, portal, id);
        const rows = await withPool(
            url,
            async (pool) => (await pool.query("SELECT count(*)::int AS n FROM jobs WHERE tenant = 'initech'")).rows[0].n,
        );
        assert.equal(rows, 1);
    });

    it("a provision's seed password is used, never stored: not in the job, its events, the keys or the audit log", async () => {
        const answer = await call(service.url, "POST", "/v1/tenants", {
            token: portal,
            key: "provision-newco-1",
            json: { id: "newco", server: "nope", seed: { companyName: "New Co", adminEmail: "admin@newco.test", adminPassword: PASSWORD } },
        });
        assert.equal(answer.status, 202);
        assert.ok(!answer.text.includes(PASSWORD));
        const job = await settled(service.url, portal, (answer.body as { id: string }).id);
        assert.deepEqual(job.request, { id: "newco", server: "nope", seed: { companyName: "New Co", adminEmail: "admin@newco.test" } });
        assert.deepEqual(
            [job.state, (job.error as { status: number; errors: unknown }).status, (job.error as { errors: unknown }).errors],
            [
                "failed",
                422,
                [
                    {
                        field: "tenantdb:tenants[3].server",
                        message:
                            'tenantdb config has 1 problem:\n  - tenantdb:tenants[3].server: unknown server "nope"; declared servers: local',
                    },
                ],
            ],
        );
        const everything = await withPool(url, async (pool) => {
            const tables = ["jobs", "job_events", "idempotency_keys", "audit", "tokens"];
            return (await Promise.all(tables.map(async (t) => JSON.stringify((await pool.query(`SELECT * FROM ${t}`)).rows)))).join("\n");
        });
        assert.ok(everything.includes("admin@newco.test"), "the search would find what is stored");
        assert.ok(!everything.includes(PASSWORD));
        assert.equal(readText(project.stackFile), original);
    });

    it("streams a job's events as server-sent events until it ends, and resumes after Last-Event-ID", async () => {
        const answer = await call(service.url, "POST", "/v1/tenants/globex/suspend", { token: portal, key: "suspend-globex-1", json: {} });
        const id = (answer.body as { id: string }).id;
        const events = await streamed(service.url, portal, id);
        assert.deepEqual(
            events.map((e) => [e.event, e.data]),
            [
                ["state", { type: "state", state: "queued" }],
                ["state", { type: "state", state: "running" }],
                ["leased", { type: "leased", stack: "dev", operation: "suspend globex" }],
                ["state", { type: "state", state: "failed", error: NO_FINAL_BACKUP }],
            ],
        );
        const resumed = await streamed(service.url, portal, id, String(events[1].id));
        assert.deepEqual(
            resumed.map((e) => e.id),
            events.slice(2).map((e) => e.id),
        );
    });

    it("audits each accepted call with its job, whose final state it reads", async () => {
        const trail = (await withPool(url, auditTrail)).filter((e) => e.route === "/v1/tenants/:id/suspend" && e.tenant === "acme");
        assert.deepEqual(
            trail.map((e) => [e.who, e.status, e.idempotencyKey, e.job !== undefined, e.jobState ?? null]),
            [
                ["portal", 202, "suspend-acme-1", true, "failed"],
                ["portal", 202, "suspend-acme-1", true, "failed"],
                ["portal", 422, "suspend-acme-1", false, null],
                ["backoffice", 202, "suspend-acme-1", true, "failed"],
            ],
        );
    });

    it("after a restart, a job left running reads interrupted and never runs; a queued one runs; one needing a lost secret fails", async () => {
        await service.close();
        const [running, queued, secret] = [randomUUID(), randomUUID(), randomUUID()];
        const startedAt = "2026-01-02T03:04:05.678Z";
        await withPool(url, async (pool) => {
            const insert =
                "INSERT INTO jobs (id, kind, tenant, stack, request, state, created_by, started_at, needs_secret) VALUES ($1, $2, $3, 'dev', $4, $5, 'portal', $6, $7)";
            await pool.query(insert, [running, "suspend", "acme", {}, "running", startedAt, false]);
            await pool.query(insert, [queued, "suspend", "globex", {}, "queued", null, false]);
            await pool.query(insert, [secret, "provision", "newco", { id: "newco" }, "queued", null, true]);
        });
        service = await serve(url, project.dir);
        assert.deepEqual(service.recovered, { interrupted: [running], notStarted: [secret], resumed: 1 });

        const ran = await settled(service.url, portal, queued);
        assert.deepEqual([ran.state, ran.error], ["failed", NO_FINAL_BACKUP]);
        const interrupted = (await call(service.url, "GET", `/v1/jobs/${running}`, { token: portal })).body as Record<string, unknown>;
        assert.deepEqual([interrupted.state, interrupted.error, interrupted.startedAt], ["interrupted", INTERRUPTED, startedAt]);
        assert.equal(
            (interrupted.error as { detail: string }).detail,
            "The service stopped (crashed, was killed or restarted) while this job was running, so its effect may or may not have been applied. It will not be run again. Check the tenant (GET /v1/tenants/{id}), then submit the request again with a new Idempotency-Key if needed: provisioning the same tenant again is safe.",
        );
        const lost = (await call(service.url, "GET", `/v1/jobs/${secret}`, { token: portal })).body as Record<string, unknown>;
        assert.deepEqual([lost.state, lost.error, lost.startedAt], ["failed", NOT_STARTED, null]);
        // The interrupted job's only event is its interruption: it was never leased, never run.
        const events = await withPool(
            url,
            async (pool) => (await pool.query("SELECT event FROM job_events WHERE job = $1 ORDER BY seq", [running])).rows,
        );
        assert.deepEqual(events, [{ event: { type: "state", state: "interrupted", error: INTERRUPTED } }]);

        // Another restart changes nothing about them.
        await service.close();
        service = await serve(url, project.dir);
        assert.deepEqual(service.recovered, { interrupted: [], notStarted: [], resumed: 0 });
        const again = (await call(service.url, "GET", `/v1/jobs/${running}`, { token: portal })).body as Record<string, unknown>;
        assert.deepEqual(again, interrupted);
    });

    it("refuses a second service on the same control database", async () => {
        await assert.rejects(
            serve(url, project.dir),
            new Error(
                "another tenantdb serve is running on this control database (it holds its advisory lock); stop it first, or give this one its own database",
            ),
        );
        const fleet = (await call(service.url, "GET", "/v1/fleet", { token: portal })).body;
        assert.deepEqual(fleet, {
            stacks: [{ stack: "dev", tenants: { active: 3 }, capacity: null }],
            jobs: { failed: 7, interrupted: 1 },
        });
    });
});

/**
 * tenantdb serve: bearer tokens. Missing, malformed, unknown and revoked tokens get the same
 * fixed 401, a token without the route's scope the same fixed 403; mutating calls are audited
 * either way; the token commands store only hashes and print a token once.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { promisify } from "node:util";
import { auditTrail } from "../../src/serve/audit";
import type { RunningService } from "../../src/serve/service";
import {
    call,
    dropControlDatabase,
    freshControlDatabase,
    projectWithDevStack,
    readText,
    REPO_ROOT,
    serve,
    tokenFor,
    withPool,
} from "./support";

const run = promisify(execFile);
const DATABASE = "serve_auth";

const unauthorized = (instance: string) => ({
    type: "urn:tenantdb:problem:unauthorized",
    title: "Unauthorized",
    status: 401,
    detail: "A valid bearer token is required.",
    instance,
});
const forbidden = (instance: string) => ({
    type: "urn:tenantdb:problem:forbidden",
    title: "Forbidden",
    status: 403,
    detail: "This token may not make this request.",
    instance,
});

describe("tenantdb serve: authentication and authorization", function () {
    this.timeout(120_000);
    let url: string;
    let project: ReturnType<typeof projectWithDevStack>;
    let service: RunningService;
    let base: string;
    let read: string;
    let provision: string;
    let offboard: string;

    const cli = (...args: string[]) =>
        run(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "scripts/serve.ts"), "--work-dir", project.dir, "token", ...args], {
            cwd: REPO_ROOT,
            env: { ...process.env, TENANTDB_CONTROL_DATABASE_URL: url },
        });

    before(async () => {
        url = await freshControlDatabase(DATABASE);
        project = projectWithDevStack();
        service = await serve(url, project.dir);
        base = service.url;
        read = await tokenFor(url, "reader", ["read"]);
        provision = await tokenFor(url, "provisioner", ["provision"]);
        offboard = await tokenFor(url, "offboarder", ["offboard"]);
    });

    after(async () => {
        await service?.close();
        project?.remove();
        await dropControlDatabase(DATABASE);
    });

    it("answers 401 with one fixed body for a missing, malformed or unknown token, and WWW-Authenticate", async () => {
        const unknown = `tdb_${"A".repeat(43)}`;
        const attempts: Record<string, string>[] = [
            {},
            { authorization: "Basic dXNlcjpwYXNz" },
            { authorization: "Bearer" },
            { authorization: `Bearer ${read} extra` },
            { authorization: "bearer " + read.toUpperCase() },
            { authorization: `Bearer ${unknown}` },
            { authorization: `Bearer ${read.slice(0, -1)}` },
        ];
        for (const headers of attempts) {
            const answer = await call(base, "GET", "/v1/tenants", { headers });
            assert.equal(answer.status, 401, JSON.stringify(headers));
            assert.deepEqual(answer.body, unauthorized("/v1/tenants"));
            assert.equal(answer.headers.get("www-authenticate"), 'Bearer realm="tenantdb"');
            assert.equal(answer.headers.get("content-type"), "application/problem+json; charset=utf-8");
        }
        // Before the body is looked at: a bad body without a token is still just a 401.
        const post = await call(base, "POST", "/v1/tenants", { json: { id: "Bad Id" }, headers: { authorization: `Bearer ${unknown}` } });
        assert.deepEqual([post.status, post.body], [401, unauthorized("/v1/tenants")]);
    });

    it("answers 403 with one fixed body when the token lacks the route's scope, and creates nothing", async () => {
        const cases: [string, string, string, string][] = [
            [read, "POST", "/v1/tenants", "read token provisions"],
            [offboard, "POST", "/v1/tenants", "offboard token provisions"],
            [read, "POST", "/v1/tenants/acme/suspend", "read token suspends"],
            [provision, "POST", "/v1/tenants/acme/suspend", "provision token suspends"],
            [provision, "POST", "/v1/tenants/acme/retire", "provision token retires"],
            [offboard, "POST", "/v1/tenants/acme/resume", "offboard token resumes"],
            [read, "GET", "/v1/tenants/acme/connection", "read token reads a connection string"],
            [provision, "GET", "/v1/tenants", "provision token lists"],
        ];
        for (const [token, method, route, what] of cases) {
            const answer = await call(base, method, route, {
                token,
                ...(method === "POST" ? { key: "key-forbidden-1", json: route === "/v1/tenants" ? { id: "newco" } : {} } : {}),
            });
            assert.deepEqual([answer.status, answer.body], [403, forbidden(route)], what);
        }
        assert.deepEqual(await withPool(url, async (pool) => (await pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n), 0);
        assert.equal(readText(project.stackFile), readText(path.join(REPO_ROOT, "Pulumi.dev.yaml")));
    });

    it("audits every refused mutating call and connection-string read (who, route, tenant, key, status), and no read", async () => {
        const trail = await withPool(url, auditTrail);
        assert.deepEqual(
            trail.map((e) => [e.who, e.method, e.route, e.tenant ?? null, e.idempotencyKey ?? null, e.job ?? null, e.status]),
            [
                // Refused before its body was read: no tenant.
                ["anonymous", "POST", "/v1/tenants", null, null, null, 401],
                ["reader", "POST", "/v1/tenants", null, "key-forbidden-1", null, 403],
                ["offboarder", "POST", "/v1/tenants", null, "key-forbidden-1", null, 403],
                ["reader", "POST", "/v1/tenants/:id/suspend", "acme", "key-forbidden-1", null, 403],
                ["provisioner", "POST", "/v1/tenants/:id/suspend", "acme", "key-forbidden-1", null, 403],
                ["provisioner", "POST", "/v1/tenants/:id/retire", "acme", "key-forbidden-1", null, 403],
                ["offboarder", "POST", "/v1/tenants/:id/resume", "acme", "key-forbidden-1", null, 403],
                ["reader", "GET", "/v1/tenants/:id/connection", "acme", null, null, 403],
            ],
        );
        assert.ok(trail.every((e) => !Number.isNaN(Date.parse(e.at))));
    });

    it("token commands: create prints the token once, only its SHA-256 is stored, list never shows it, revoke refuses it at once", async () => {
        const created = await cli("create", "--name", "portal", "--scopes", "read,provision");
        const token = created.stdout.trim();
        assert.match(token, /^tdb_[A-Za-z0-9_-]{43}$/);
        assert.equal(created.stderr, "token portal (read, provision) created; it is shown only now:\n");
        const stored = await withPool(
            url,
            async (pool) => (await pool.query("SELECT name, hash, scopes FROM tokens WHERE name = 'portal'")).rows,
        );
        assert.deepEqual(stored, [{ name: "portal", hash: createHash("sha256").update(token).digest(), scopes: ["read", "provision"] }]);
        const everything = await withPool(url, async (pool) => JSON.stringify((await pool.query("SELECT * FROM tokens")).rows));
        assert.ok(!everything.includes(token));

        assert.equal((await call(base, "GET", "/v1/tenants", { token })).status, 200);
        const listed = JSON.parse((await cli("list", "--json")).stdout) as { name: string; scopes: string[]; revokedAt?: string }[];
        assert.deepEqual(
            listed.map((t) => [t.name, t.scopes, t.revokedAt ?? null]),
            [
                ["offboarder", ["offboard"], null],
                ["portal", ["read", "provision"], null],
                ["provisioner", ["provision"], null],
                ["reader", ["read"], null],
            ],
        );
        assert.ok(!JSON.stringify(listed).includes(token));

        assert.equal((await cli("revoke", "portal")).stdout, "token portal revoked\n");
        const after = await call(base, "GET", "/v1/tenants", { token });
        assert.deepEqual([after.status, after.body], [401, unauthorized("/v1/tenants")]);
        const revokedPost = await call(base, "POST", "/v1/tenants", { token, key: "key-revoked-1", json: { id: "newco" } });
        assert.deepEqual([revokedPost.status, revokedPost.body], [401, unauthorized("/v1/tenants")]);
        const last = (await withPool(url, auditTrail)).at(-1)!;
        assert.deepEqual([last.who, last.route, last.status, last.idempotencyKey], ["anonymous", "/v1/tenants", 401, "key-revoked-1"]);

        await assert.rejects(cli("revoke", "portal"), (error: { stderr: string; code: number }) => {
            assert.equal(error.stderr, "serve: no active token named portal\n");
            assert.equal(error.code, 1);
            return true;
        });
        await assert.rejects(cli("create", "--name", "bad", "--scopes", "read,admin"), (error: { stderr: string }) => {
            assert.equal(error.stderr, 'serve: --scopes takes a comma-separated list of read, provision, offboard; got "read,admin"\n');
            return true;
        });
    });
});

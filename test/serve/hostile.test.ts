/**
 * tenantdb serve: hostile and malformed requests. Each gets an exact RFC 9457 problem naming the
 * field at fault, and nothing reaches the stack file or the control database's jobs.
 */
import * as assert from "node:assert/strict";
import type { RunningService } from "../../src/serve/service";
import { call, dropControlDatabase, freshControlDatabase, projectWithDevStack, readText, serve, tokenFor, withPool } from "./support";

const DATABASE = "serve_hostile";
const ID_RULE =
    "must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp";
const BAD_JSON = "is not valid JSON, or holds a __proto__ or constructor.prototype key (refused)";
const LIMIT_RULE = "must be a whole number from 10 to 5000; write a number in that range without quotes or units, e.g. 50";

const invalid = (instance: string, errors: { field: string; message: string }[]) => ({
    type: "urn:tenantdb:problem:validation",
    title: "The request is invalid",
    status: 400,
    detail: "See errors: each names the field at fault.",
    instance,
    errors,
});

describe("tenantdb serve: hostile bodies", function () {
    this.timeout(60_000);
    let url: string;
    let project: ReturnType<typeof projectWithDevStack>;
    let service: RunningService;
    let token: string;
    let original: string;
    const post = (route: string, options: Parameters<typeof call>[3]) =>
        call(service.url, "POST", route, { token, key: "hostile-key-1", ...options });

    before(async () => {
        url = await freshControlDatabase(DATABASE);
        project = projectWithDevStack();
        original = readText(project.stackFile);
        service = await serve(url, project.dir);
        token = await tokenFor(url, "portal", ["read", "provision", "offboard"]);
    });

    after(async () => {
        await service?.close();
        project?.remove();
        await dropControlDatabase(DATABASE);
    });

    const cases: [string, Parameters<typeof call>[3], { field: string; message: string }[]][] = [
        ["invalid JSON", { raw: '{"id": "newco",' }, [{ field: "body", message: BAD_JSON }]],
        ["an empty JSON body", { raw: "" }, [{ field: "body", message: "is empty; send a JSON object" }]],
        ["a __proto__ key", { raw: '{"id": "newco", "__proto__": {"admin": true}}' }, [{ field: "body", message: BAD_JSON }]],
        [
            "a constructor.prototype key",
            { raw: '{"id": "newco", "constructor": {"prototype": {"admin": true}}}' },
            [{ field: "body", message: BAD_JSON }],
        ],
        [
            "a JSON array",
            { json: [{ id: "newco" }] },
            [{ field: "body", message: 'must be a JSON object: {"id": ..., "plan"?, "server"?, "connectionLimit"?, "seed"?}' }],
        ],
        [
            "unknown fields",
            { json: { id: "newco", admin: true, state: "erased" } },
            [
                { field: "body.admin", message: "is not a known field" },
                { field: "body.state", message: "is not a known field" },
            ],
        ],
        ["a number for the id", { json: { id: 5 } }, [{ field: "body.id", message: "must be a string, e.g. id: acme_corp" }]],
        ["a missing id", { json: { plan: "standard" } }, [{ field: "body.id", message: "must be a string, e.g. id: acme_corp" }]],
        [
            "an over-long id",
            { json: { id: "a".repeat(200) } },
            [
                {
                    field: "body.id",
                    message:
                        "is longer than 29 characters: the database a restore keeps, erp_<id>_before_restore_<timestamp>, would pass PostgreSQL's 63-byte identifier limit; shorten it",
                },
            ],
        ],
        ["a unicode id", { json: { id: "acmé_ünïcode" } }, [{ field: "body.id", message: ID_RULE }]],
        ["an SQL injection id", { json: { id: "acme'; DROP TABLE jobs; --" } }, [{ field: "body.id", message: ID_RULE }]],
        [
            "a negative connectionLimit",
            { json: { id: "newco", connectionLimit: -1 } },
            [{ field: "body.connectionLimit", message: LIMIT_RULE }],
        ],
        [
            "a huge connectionLimit",
            { json: { id: "newco", connectionLimit: 1e15 } },
            [{ field: "body.connectionLimit", message: LIMIT_RULE }],
        ],
        [
            "a string connectionLimit",
            { json: { id: "newco", connectionLimit: "50" } },
            [{ field: "body.connectionLimit", message: LIMIT_RULE }],
        ],
        [
            "an unknown plan",
            { json: { id: "newco", plan: "free" } },
            [{ field: "body.plan", message: 'must be "standard" or "enterprise"' }],
        ],
        [
            "a bad seed (its password is not echoed)",
            { json: { id: "newco", seed: { companyName: "", adminEmail: "not-an-email", adminPassword: "hunter2", extra: 1 } } },
            [
                { field: "body.seed.companyName", message: "must be the tenant's first company name" },
                { field: "body.seed.adminEmail", message: "must be an email address" },
                { field: "body.seed.adminPassword", message: "must be at least 12 characters" },
                { field: "body.seed.extra", message: "is not a known field" },
            ],
        ],
    ];
    for (const [what, options, errors] of cases) {
        it(`refuses ${what} naming the field`, async () => {
            const answer = await post("/v1/tenants", options);
            assert.equal(answer.status, 400);
            assert.equal(answer.headers.get("content-type"), "application/problem+json; charset=utf-8");
            assert.deepEqual(answer.body, invalid("/v1/tenants", errors));
            assert.ok(!answer.text.includes("hunter2"));
        });
    }

    it("refuses a missing or malformed Idempotency-Key naming the header", async () => {
        for (const key of [undefined, "short", "has a space in it", "x".repeat(129)]) {
            const answer = await call(service.url, "POST", "/v1/tenants", { token, key, json: { id: "newco" } });
            assert.deepEqual(
                [answer.status, answer.body],
                [
                    400,
                    invalid("/v1/tenants", [
                        {
                            field: "headers.idempotency-key",
                            message:
                                key === undefined
                                    ? "is required on every POST: a unique string per intended operation, e.g. a UUID"
                                    : "must be 8 to 128 printable ASCII characters without spaces, e.g. a UUID",
                        },
                    ]),
                ],
            );
        }
    });

    it("refuses a bad tenant id in the path, and unknown fields of a lifecycle body", async () => {
        const path = await post("/v1/tenants/Robert'%3B--/suspend", { json: {} });
        assert.deepEqual(
            [path.status, path.body],
            [400, invalid("/v1/tenants/Robert'%3B--/suspend", [{ field: "params.id", message: ID_RULE }])],
        );
        const body = await post("/v1/tenants/acme/retire", { json: { overrideRetention: "acme", force: true } });
        assert.deepEqual(
            [body.status, body.body],
            [400, invalid("/v1/tenants/acme/retire", [{ field: "body.force", message: "is not a known field" }])],
        );
        const job = await call(service.url, "GET", "/v1/jobs/not-a-uuid", { token });
        assert.deepEqual(
            [job.status, job.body],
            [400, invalid("/v1/jobs/not-a-uuid", [{ field: "params.id", message: "must be a job id (a UUID)" }])],
        );
    });

    it("refuses a malformed preview naming the field, and a preview of an unknown tenant", async () => {
        const cases: [unknown, { field: string; message: string }[]][] = [
            [
                { action: "delete", tenantId: "acme" },
                [
                    {
                        field: "body.action",
                        message:
                            'must be {"action": "provision", "tenant": {...}} or {"action": "suspend" | "resume" | "retire", "tenantId": ...}',
                    },
                ],
            ],
            [{ action: "suspend", tenantId: "Acme" }, [{ field: "body.tenantId", message: ID_RULE }]],
            [
                { action: "provision", tenant: { id: "newco", connectionLimit: 0 } },
                [{ field: "body.tenant.connectionLimit", message: LIMIT_RULE }],
            ],
            [
                { action: "provision", tenant: { id: "newco" }, tenantId: "newco" },
                [{ field: "body.tenantId", message: "is not a known field" }],
            ],
        ];
        for (const [json, errors] of cases) {
            const answer = await post("/v1/previews", { json });
            assert.deepEqual([answer.status, answer.body], [400, invalid("/v1/previews", errors)], JSON.stringify(json));
        }
        const unknown = await post("/v1/previews", { json: { action: "retire", tenantId: "nobody" } });
        assert.deepEqual(
            [unknown.status, unknown.body],
            [
                404,
                {
                    type: "urn:tenantdb:problem:not-found",
                    title: "Not found",
                    status: 404,
                    detail: "no tenant nobody",
                    instance: "/v1/previews",
                },
            ],
        );
    });

    it("answers 415 for another content type, 413 for a 1 MB body, 404 for an unknown tenant or route", async () => {
        for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
            const answer = await post("/v1/tenants", { raw: "id=newco", contentType });
            assert.deepEqual(
                [answer.status, answer.body],
                [
                    415,
                    {
                        type: "urn:tenantdb:problem:unsupported-media-type",
                        title: "Unsupported media type",
                        status: 415,
                        detail: "Send the body as application/json.",
                        instance: "/v1/tenants",
                    },
                ],
                contentType,
            );
        }
        const large = await post("/v1/tenants", { raw: JSON.stringify({ id: "newco", padding: "x".repeat(1024 * 1024) }) });
        assert.deepEqual(
            [large.status, large.body],
            [
                413,
                {
                    type: "urn:tenantdb:problem:too-large",
                    title: "Request body too large",
                    status: 413,
                    detail: "The body must be at most 65536 bytes.",
                    instance: "/v1/tenants",
                },
            ],
        );
        const missing = await post("/v1/tenants/nobody/suspend", { json: {} });
        assert.deepEqual(
            [missing.status, missing.body],
            [
                404,
                {
                    type: "urn:tenantdb:problem:not-found",
                    title: "Not found",
                    status: 404,
                    detail: "no tenant nobody",
                    instance: "/v1/tenants/nobody/suspend",
                },
            ],
        );
        const route = await call(service.url, "GET", "/v1/nothing-here", { token });
        assert.deepEqual(
            [route.status, route.body],
            [
                404,
                {
                    type: "urn:tenantdb:problem:not-found",
                    title: "Not found",
                    status: 404,
                    detail: "no route GET /v1/nothing-here",
                    instance: "/v1/nothing-here",
                },
            ],
        );
    });

    it("wrote nothing: the stack file is unchanged, no job or idempotency key exists, every refusal is audited", async () => {
        assert.equal(readText(project.stackFile), original);
        const counts = await withPool(url, async (pool) => {
            const count = async (table: string) => (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
            return { jobs: await count("jobs"), keys: await count("idempotency_keys"), events: await count("job_events") };
        });
        assert.deepEqual(counts, { jobs: 0, keys: 0, events: 0 });
        const statuses = await withPool(
            url,
            async (pool) => (await pool.query("SELECT status, count(*)::int AS n FROM audit GROUP BY status ORDER BY status")).rows,
        );
        // 16 bodies, 4 keys, 2 lifecycle bodies (and the job read, not audited), 4 previews; 3 content types; the large body; 2 unknown tenants.
        assert.deepEqual(statuses, [
            { status: 400, n: 26 },
            { status: 404, n: 2 },
            { status: 413, n: 1 },
            { status: 415, n: 3 },
        ]);
    });
});

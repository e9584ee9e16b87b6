/**
 * The OpenAPI document the service publishes (GET /openapi.json, no token needed) is the one
 * committed as docs/openapi.json: an API change shows up in review. Update it on purpose with
 * UPDATE_GOLDEN=1 (laid out by prettier, as `npm run lint` checks it).
 */
import * as assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as prettier from "prettier";
import type { RunningService } from "../../src/serve/service";
import { call, dropControlDatabase, freshControlDatabase, projectWithDevStack, REPO_ROOT, serve } from "./support";

const DATABASE = "serve_openapi";
const GOLDEN = path.join(REPO_ROOT, "docs/openapi.json");

describe("tenantdb serve: the OpenAPI document", function () {
    this.timeout(60_000);
    let project: ReturnType<typeof projectWithDevStack>;
    let service: RunningService;

    before(async () => {
        project = projectWithDevStack();
        service = await serve(await freshControlDatabase(DATABASE), project.dir);
    });

    after(async () => {
        await service?.close();
        project?.remove();
        await dropControlDatabase(DATABASE);
    });

    it("is served without a token and equals docs/openapi.json", async () => {
        const answer = await call(service.url, "GET", "/openapi.json");
        assert.equal(answer.status, 200);
        // As `npm run lint` wants it: prettier's layout for the file.
        const actual = await prettier.format(JSON.stringify(answer.body), { ...(await prettier.resolveConfig(GOLDEN)), filepath: GOLDEN });
        if (process.env.UPDATE_GOLDEN === "1") writeFileSync(GOLDEN, actual);
        assert.equal(actual, readFileSync(GOLDEN, "utf8"), "docs/openapi.json differs; run with UPDATE_GOLDEN=1 if the change is intended");
    });

    it("documents every route with its scope's security, and every POST's Idempotency-Key", async () => {
        const document = (await call(service.url, "GET", "/openapi.json")).body as {
            openapi: string;
            paths: Record<string, Record<string, { security?: unknown; parameters?: { in: string; name: string; required?: boolean }[] }>>;
        };
        assert.equal(document.openapi, "3.1.0");
        const routes = Object.entries(document.paths).flatMap(([route, methods]) =>
            Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`),
        );
        assert.deepEqual(routes.sort(), [
            "GET /v1/fleet",
            "GET /v1/jobs/{id}",
            "GET /v1/jobs/{id}/events",
            "GET /v1/tenants",
            "GET /v1/tenants/{id}",
            "GET /v1/tenants/{id}/connection",
            "POST /v1/previews",
            "POST /v1/tenants",
            "POST /v1/tenants/{id}/resume",
            "POST /v1/tenants/{id}/retire",
            "POST /v1/tenants/{id}/suspend",
        ]);
        for (const [route, methods] of Object.entries(document.paths)) {
            for (const [method, operation] of Object.entries(methods)) {
                assert.deepEqual(operation.security, [{ bearer: [] }], `${method} ${route}`);
                if (method === "post")
                    assert.deepEqual(
                        operation.parameters?.filter((p) => p.in === "header").map((p) => [p.name, p.required]),
                        [["idempotency-key", true]],
                        route,
                    );
            }
        }
    });
});

/**
 * The HTTP application: Fastify with zod request and response schemas, the OpenAPI document
 * generated from them (GET /openapi.json), bearer-token auth, the audit log and RFC 9457
 * problem responses for every error.
 */
import fastifySwagger from "@fastify/swagger";
import Fastify, { FastifyError, FastifyInstance, FastifyServerOptions } from "fastify";
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { STATUS_CODES } from "node:http";
import { audit } from "./audit";
import { authenticate } from "./auth";
import type { ServiceContext } from "./context";
import {
    controlProblem,
    FieldError,
    HttpProblem,
    INTERNAL,
    notFound,
    Problem,
    problem,
    PROBLEM_CONTENT_TYPE,
    validationProblem,
} from "./problems";
import { fleetRoutes } from "./routes/fleet";
import { jobRoutes } from "./routes/jobs";
import { previewRoutes } from "./routes/previews";
import { tenantRoutes } from "./routes/tenants";

/** Requests are small JSON documents; anything larger is refused before it is parsed. */
export const BODY_LIMIT = 64 * 1024;

const BAD_JSON = "is not valid JSON, or holds a __proto__ or constructor.prototype key (refused)";

export const API_VERSION = "1.0.0";

/** Log options: never a body, never the Authorization header or anything that looks like a secret. */
export const LOGGER: FastifyServerOptions["logger"] = {
    level: process.env.TENANTDB_SERVE_LOG_LEVEL ?? "info",
    redact: {
        paths: ["req.headers.authorization", "*.password", "*.adminPassword", "*.connectionString", "*.token"],
        censor: "[redacted]",
    },
};

export async function buildApp(context: ServiceContext, logger: FastifyServerOptions["logger"] = LOGGER): Promise<FastifyInstance> {
    const app = Fastify({ logger, bodyLimit: BODY_LIMIT, return503OnClosing: true });
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    // Only JSON: text/plain would otherwise reach the schemas as a string; now it is a 415.
    app.removeContentTypeParser(["text/plain"]);

    await app.register(fastifySwagger, {
        openapi: {
            openapi: "3.1.0",
            info: {
                title: "tenantdb provisioning API",
                version: API_VERSION,
                description:
                    "Provision, suspend, resume and retire tenant databases; read tenants, the fleet and jobs. " +
                    "Long operations answer 202 with a job (Location: /v1/jobs/{id}); follow it by polling or as server-sent events. " +
                    "Every POST needs an Idempotency-Key header. Errors are RFC 9457 problem details.",
            },
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
        },
        transform: jsonSchemaTransform,
    });

    app.addHook("onRequest", authenticate(context.pool));
    app.addHook("onSend", async (request, reply, payload) => {
        if (!request.routeOptions.config.access?.audited) return payload;
        const params = (request.params ?? {}) as Record<string, unknown>;
        const body = request.body !== null && typeof request.body === "object" ? (request.body as Record<string, unknown>) : {};
        const tenant = typeof params.id === "string" ? params.id : tenantOfBody(body);
        const key = request.headers["idempotency-key"];
        await audit(context.pool, {
            who: request.caller ?? "anonymous",
            method: request.method,
            route: request.routeOptions.url ?? request.url,
            tenant: tenant?.slice(0, 200),
            idempotencyKey: typeof key === "string" ? key.slice(0, 200) : undefined,
            job: request.jobId,
            status: reply.statusCode,
        });
        return payload;
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
        const answer = problemFor(error);
        if (answer.status >= 500) request.log.error({ err: error }, "request failed");
        void reply
            .code(answer.status)
            .type(PROBLEM_CONTENT_TYPE)
            .send({ ...answer, instance: request.url.split("?")[0] });
    });
    app.setNotFoundHandler((request, reply) => {
        void reply
            .code(404)
            .type(PROBLEM_CONTENT_TYPE)
            .send({ ...notFound(`no route ${request.method} ${request.url.split("?")[0]}`), instance: request.url.split("?")[0] });
    });

    app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());
    await app.register(tenantRoutes(context), { prefix: "/v1" });
    await app.register(jobRoutes(context), { prefix: "/v1" });
    await app.register(fleetRoutes(context), { prefix: "/v1" });
    await app.register(previewRoutes(context), { prefix: "/v1" });
    return app;
}

/** The tenant a POST body names: a provision's id, a preview's tenant. */
function tenantOfBody(body: Record<string, unknown>): string | undefined {
    const named = body.id ?? body.tenantId ?? (body.tenant as Record<string, unknown> | undefined)?.id;
    return typeof named === "string" ? named : undefined;
}

/** The problem an error is answered with; nothing of an unexpected error's message leaves the server. */
function problemFor(error: FastifyError): Problem {
    if (error instanceof HttpProblem) return error.problem;
    // A control API error raised while answering (a stack file edited under a read, say).
    const control = controlProblem(error);
    if (control) return control;
    if (hasZodFastifySchemaValidationErrors(error)) return validationProblem(fieldErrors(error));
    switch (error.code) {
        case "FST_ERR_CTP_BODY_TOO_LARGE":
            return problem(413, "too-large", "Request body too large", `The body must be at most ${BODY_LIMIT} bytes.`);
        case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
            return problem(415, "unsupported-media-type", "Unsupported media type", "Send the body as application/json.");
        case "FST_ERR_CTP_EMPTY_JSON_BODY":
            return validationProblem([{ field: "body", message: "is empty; send a JSON object" }]);
        // The JSON parser also refuses __proto__ and constructor.prototype keys (prototype poisoning).
        case "FST_ERR_CTP_INVALID_JSON_BODY":
            return validationProblem([{ field: "body", message: BAD_JSON }]);
    }
    if (error instanceof SyntaxError) return validationProblem([{ field: "body", message: BAD_JSON }]);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return problem(status, "http-" + status, STATUS_CODES[status] ?? "Client error");
    return INTERNAL;
}

/** Zod's issues as fields: `body.tenant.connectionLimit`, `headers.idempotency-key`, one per unknown key. */
function fieldErrors(error: FastifyError): FieldError[] {
    const where = error.validationContext ?? "body";
    return (error.validation ?? []).flatMap((issue): FieldError[] => {
        const path = issue.instancePath.split("/").filter((part) => part !== "");
        const field = [where, ...path].join(".");
        const keys = (issue.params as { keys?: unknown }).keys;
        if (issue.keyword === "unrecognized_keys" && Array.isArray(keys))
            return keys.map((key) => ({ field: `${field}.${String(key)}`, message: "is not a known field" }));
        return [{ field, message: issue.message ?? "is invalid" }];
    });
}

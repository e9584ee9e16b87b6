/** Tenant routes: list, read, provision, suspend, resume, retire, and the one secret: the app role's connection string. */
import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ServiceContext } from "../context";
import { acceptJob } from "../idempotency";
import { HttpProblem, notFound } from "../problems";
import {
    connectionSchema,
    idempotencyHeaders,
    jobSchema,
    lifecycleBody,
    problemSchema,
    provisionBody,
    tenantIdParams,
    tenantSummarySchema,
    tenantViewSchema,
} from "../schemas";
import { tenantView } from "../tenant-view";

const security = [{ bearer: [] }];
const problems = { 400: problemSchema, 401: problemSchema, 403: problemSchema };
const accepted = { 202: jobSchema.describe("the job: poll its Location, or follow /v1/jobs/{id}/events") };

export function tenantRoutes(context: ServiceContext): FastifyPluginAsync {
    return async (plugin) => {
        const app = plugin.withTypeProvider<ZodTypeProvider>();
        const stackOf = (tenantId: string) => {
            const stack = context.target.locate(tenantId);
            if (!stack) throw new HttpProblem(notFound(`no tenant ${tenantId}`));
            return stack;
        };

        app.get(
            "/tenants",
            {
                config: { access: { scope: "read" } },
                schema: {
                    summary: "List tenants (from the stack files)",
                    security,
                    response: { 200: z.object({ tenants: z.array(tenantSummarySchema) }), ...problems },
                },
            },
            () => ({
                tenants: context.target
                    .stacks()
                    .flatMap((stack) => context.target.client.status(stack).tenants.map((t) => ({ ...t, stack }))),
            }),
        );

        app.get(
            "/tenants/:id",
            {
                config: { access: { scope: "read" } },
                schema: {
                    summary: "Read a tenant: state, server, cell, schema version, newest backup, monthly cost",
                    security,
                    params: tenantIdParams,
                    response: { 200: tenantViewSchema, 404: problemSchema, ...problems },
                },
            },
            (request) => tenantView(context, stackOf(request.params.id), request.params.id),
        );

        app.get(
            "/tenants/:id/connection",
            {
                config: { access: { scope: "provision", audited: true } },
                schema: {
                    summary: "The tenant app role's connection string (a secret: provision scope, audited, never cached)",
                    security,
                    params: tenantIdParams,
                    response: { 200: connectionSchema, 404: problemSchema, ...problems },
                },
            },
            async (request, reply) => {
                const tenantId = request.params.id;
                const stack = stackOf(tenantId);
                reply.header("Cache-Control", "no-store");
                const outputs = await context.deployed.get(stack);
                const secrets = outputs.tenantSecrets[tenantId];
                const tenant = outputs.tenants[tenantId];
                if (!secrets?.appConnectionString || !tenant)
                    throw new HttpProblem(notFound(`tenant ${tenantId} is not deployed in stack ${stack} yet`));
                return { tenant: tenantId, stack, role: tenant.roles.app, connectionString: secrets.appConnectionString };
            },
        );

        app.post(
            "/tenants",
            {
                config: { access: { scope: "provision", audited: true } },
                schema: {
                    summary: "Provision a tenant: recorded, deployed, migrated and seeded by a job",
                    security,
                    headers: idempotencyHeaders,
                    body: provisionBody,
                    response: { ...accepted, 422: problemSchema, ...problems },
                },
            },
            async (request, reply) => {
                const { seed, ...tenant } = request.body;
                const stack = "stack" in context.target.scope ? context.target.scope.stack : null;
                const stored = seed ? { ...tenant, seed: { ...seed, adminPassword: undefined } } : tenant;
                return acceptJob(
                    context,
                    request,
                    reply,
                    {
                        kind: "provision",
                        tenant: tenant.id,
                        stack,
                        request: JSON.parse(JSON.stringify(stored)),
                        needsSecret: seed !== undefined,
                    },
                    (job) => context.worker.submit(job, seed),
                );
            },
        );

        for (const [kind, scope] of [
            ["suspend", "offboard"],
            ["resume", "provision"],
            ["retire", "offboard"],
        ] as const) {
            app.post(
                `/tenants/:id/${kind}`,
                {
                    config: { access: { scope, audited: true } },
                    schema: {
                        summary: `${kind[0].toUpperCase()}${kind.slice(1)} a tenant (a job)`,
                        security,
                        headers: idempotencyHeaders,
                        params: tenantIdParams,
                        body: lifecycleBody,
                        response: { ...accepted, 404: problemSchema, 422: problemSchema, ...problems },
                    },
                },
                async (request, reply) => {
                    const stack = stackOf(request.params.id);
                    return acceptJob(
                        context,
                        request,
                        reply,
                        { kind, tenant: request.params.id, stack, request: { ...request.body }, needsSecret: false },
                        (job) => context.worker.submit(job),
                    );
                },
            );
        }
    };
}

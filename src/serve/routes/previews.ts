/**
 * POST /v1/previews: what a provision, suspension, resumption or retirement would do, before it
 * is asked for (TenantdbClient.previewChange: a real `pulumi preview` of the changed stack file,
 * the migrations it would run, the cost before and after). A job, as it runs the engine; nothing
 * is changed. The read scope is enough.
 */
import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ServiceContext } from "../context";
import { acceptJob } from "../idempotency";
import { HttpProblem, notFound } from "../problems";
import { idempotencyHeaders, jobSchema, previewBody, problemSchema } from "../schemas";

export function previewRoutes(context: ServiceContext): FastifyPluginAsync {
    return async (plugin) => {
        const app = plugin.withTypeProvider<ZodTypeProvider>();
        app.post(
            "/previews",
            {
                config: { access: { scope: "read", audited: true } },
                schema: {
                    summary: "Preview a change (a job whose result is a ChangePreview); nothing is changed",
                    security: [{ bearer: [] }],
                    headers: idempotencyHeaders,
                    body: previewBody,
                    response: {
                        202: jobSchema,
                        400: problemSchema,
                        401: problemSchema,
                        403: problemSchema,
                        404: problemSchema,
                        422: problemSchema,
                    },
                },
            },
            async (request, reply) => {
                const change = request.body;
                const tenant = change.action === "provision" ? change.tenant.id : change.tenantId;
                let stack = "stack" in context.target.scope ? context.target.scope.stack : null;
                if (change.action !== "provision") {
                    stack = context.target.locate(tenant) ?? null;
                    if (!stack) throw new HttpProblem(notFound(`no tenant ${tenant}`));
                }
                return acceptJob(
                    context,
                    request,
                    reply,
                    { kind: "preview", tenant, stack, request: { ...change }, needsSecret: false },
                    (job) => context.worker.submit(job),
                );
            },
        );
    };
}

/** The fleet's status: per stack (or cell) its tenants by state and its capacity, and the jobs by state. */
import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ServiceContext } from "../context";
import { fleetSchema, problemSchema } from "../schemas";

export function fleetRoutes(context: ServiceContext): FastifyPluginAsync {
    return async (plugin) => {
        const app = plugin.withTypeProvider<ZodTypeProvider>();
        app.get(
            "/fleet",
            {
                config: { access: { scope: "read" } },
                schema: {
                    summary: "Fleet status: tenants by state and capacity per stack or cell, jobs by state",
                    security: [{ bearer: [] }],
                    response: { 200: fleetSchema, 401: problemSchema, 403: problemSchema },
                },
            },
            async () => ({
                stacks: context.target.models().map(({ stack, model }) => {
                    const tenants: Record<string, number> = {};
                    for (const tenant of model.tenants) tenants[tenant.state] = (tenants[tenant.state] ?? 0) + 1;
                    return { stack, tenants, capacity: context.target.isFleet ? model.cell.capacity : null };
                }),
                jobs: await context.store.countsByState(),
            }),
        );
    };
}

/** Job routes: a job's record, and its events as server-sent events until it ends. */
import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ServiceContext } from "../context";
import { JobEvent, TERMINAL } from "../jobs";
import { HttpProblem, notFound } from "../problems";
import { jobIdParams, jobSchema, problemSchema } from "../schemas";

const security = [{ bearer: [] }];
const KEEPALIVE_MS = 15_000;

export function jobRoutes(context: ServiceContext): FastifyPluginAsync {
    return async (plugin) => {
        const app = plugin.withTypeProvider<ZodTypeProvider>();
        const jobOr404 = async (id: string) => {
            const job = await context.store.get(id);
            if (!job) throw new HttpProblem(notFound(`no job ${id}`));
            return job;
        };

        app.get(
            "/jobs/:id",
            {
                config: { access: { scope: "read" } },
                schema: {
                    summary: "Read a job: its state, result or problem",
                    security,
                    params: jobIdParams,
                    response: { 200: jobSchema, 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
                },
            },
            (request) => jobOr404(request.params.id),
        );

        app.get(
            "/jobs/:id/events",
            {
                config: { access: { scope: "read" } },
                schema: {
                    summary: "Follow a job as server-sent events (text/event-stream) until it ends",
                    description:
                        "Each event: `id` (resume with Last-Event-ID), `event` (state, waiting, leased, config-written, engine-locked, final-backup, migrated) and `data` (JSON). " +
                        "The stream ends after the job's final state. The engine's raw output is never sent.",
                    security,
                    params: jobIdParams,
                    headers: z.looseObject({
                        "last-event-id": z
                            .string()
                            .regex(/^\d{1,18}$/)
                            .optional(),
                    }),
                    response: { 200: z.string().describe("text/event-stream"), 404: problemSchema },
                },
            },
            async (request, reply) => {
                const id = request.params.id;
                await jobOr404(id);
                let after = Number(request.headers["last-event-id"] ?? 0);
                reply.hijack();
                const out = reply.raw;
                out.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
                let closed = false;
                let sending = Promise.resolve();
                const send = (events: JobEvent[]) => {
                    for (const { seq, at, event } of events) {
                        out.write(`id: ${seq}\nevent: ${String(event.type)}\ndata: ${JSON.stringify({ ...event, at })}\n\n`);
                        after = seq;
                        if (event.type === "state" && TERMINAL.includes(event.state as never)) finish();
                    }
                };
                const pull = () => {
                    sending = sending
                        .then(async () => {
                            if (!closed) send(await context.store.eventsAfter(id, after));
                        })
                        .catch((error: unknown) => {
                            request.log.warn({ err: error }, "job events not read");
                            finish();
                        });
                };
                const keepalive = setInterval(() => out.write(": keepalive\n\n"), KEEPALIVE_MS);
                const finish = () => {
                    if (closed) return;
                    closed = true;
                    clearInterval(keepalive);
                    context.store.events.off(id, pull);
                    out.end();
                };
                out.on("close", finish);
                context.store.events.on(id, pull);
                pull();
            },
        );
    };
}

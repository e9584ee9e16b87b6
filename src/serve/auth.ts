/**
 * Authentication and authorization, before anything else about a request is looked at (body,
 * parameters): a caller without a valid token learns nothing but 401, one without the scope
 * nothing but 403, each with a fixed body.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Pool } from "pg";
import { FORBIDDEN, HttpProblem, UNAUTHORIZED } from "./problems";
import { tokenCaller } from "./tokens";

const BEARER = /^Bearer ([^\s]+)$/;

export function authenticate(pool: Pool) {
    return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        const scope = request.routeOptions.config.access?.scope;
        if (!scope) return;
        const header = request.headers.authorization;
        const match = typeof header === "string" ? BEARER.exec(header) : null;
        const caller = match ? await tokenCaller(pool, match[1]) : undefined;
        if (!caller) {
            reply.header("WWW-Authenticate", 'Bearer realm="tenantdb"');
            throw new HttpProblem(UNAUTHORIZED);
        }
        request.caller = caller.name;
        if (!caller.scopes.includes(scope)) throw new HttpProblem(FORBIDDEN);
    };
}

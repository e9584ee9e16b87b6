/**
 * tenantdb: one PostgreSQL database per tenant, declared from stack config.
 * See README.md for the config reference; the logic lives in src/ and components/.
 *
 * The program is a function because it reads one thing before it declares anything: where the
 * stack's tenants are deployed, so that a config edit that would move a tenant's database to
 * another server is refused with the whole list of problems and nothing started.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./src/config/errors";
import { loadFromPulumiConfig } from "./src/config/sources/pulumi-config";
import { engineStackReader, serverMoveProblems } from "./src/program/deployed-placement";
import { currentStackContext, declareStack } from "./src/program/stack";

async function program() {
    const { model, serverPasswords } = loadFromPulumiConfig();
    const moves = await serverMoveProblems(model, engineStackReader());
    if (moves.length > 0) throw new ConfigError(moves);
    const outputs = declareStack(model, serverPasswords, currentStackContext());
    return {
        /** Per tenant: database, server, host, port, role names, bucket and KMS key. No secrets. */
        tenants: outputs.tenants,
        /** Per tenant: passwords and connection strings. Secret. */
        tenantSecrets: outputs.tenantSecrets,
        /** Per server: kind, endpoint and the max_connections the program budgets with. */
        servers: outputs.servers,
    };
}

export = () =>
    program().catch((error: unknown) => {
        if (!(error instanceof ConfigError)) throw error;
        // A config problem is the user's to fix: its list, without the program's stack trace. The
        // stack is set, not captured: formatting a captured one through ts-node's source maps
        // kept a refused preview waiting 20 s and more.
        const refusal = new pulumi.RunError(error.message);
        refusal.stack = error.message;
        throw refusal;
    });

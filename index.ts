/**
 * tenantdb: one PostgreSQL database per tenant, declared from stack config.
 * See README.md for the config reference; the logic lives in src/ and components/.
 */
import { loadFromPulumiConfig } from "./src/config/sources/pulumi-config";
import { currentStackContext, declareStack } from "./src/program/stack";

const { model, serverPasswords } = loadFromPulumiConfig();
const outputs = declareStack(model, serverPasswords, currentStackContext());

/** Per tenant: database, server, host, port, role names, bucket and KMS key. No secrets. */
export const tenants = outputs.tenants;
/** Per tenant: passwords and connection strings. Secret. */
export const tenantSecrets = outputs.tenantSecrets;
/** Per server: kind, endpoint and the max_connections the program budgets with. */
export const servers = outputs.servers;

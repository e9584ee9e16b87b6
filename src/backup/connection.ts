/** node-postgres connections to a backup server, with the same TLS rules as the libpq children. */
import { readFileSync } from "node:fs";
import { Client, ClientConfig } from "pg";
import { BackupServer } from "./inventory";

/** Database the admin connects to for CREATE/RENAME/DROP DATABASE (exists on every server, RDS included). */
export const MAINTENANCE_DATABASE = "postgres";

export function clientConfig(server: BackupServer, database: string): ClientConfig {
    const ssl = server.ssl ?? "disable";
    return {
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
        database,
        application_name: "tenantdb-backup",
        connectionTimeoutMillis: 15_000,
        // Catalog names (regtype, regprocedure) render schema-qualified whatever the database's
        // search_path; a tenant's timeouts must not cut the long counts or the snapshot's
        // transaction, which stays idle while pg_dump runs (pg_dump resets them likewise).
        options: "-c search_path=pg_catalog -c statement_timeout=0 -c idle_in_transaction_session_timeout=0",
        ssl:
            ssl === "disable"
                ? false
                : ssl === "require"
                  ? { rejectUnauthorized: false }
                  : {
                        rejectUnauthorized: true,
                        ca: server.sslRootCert ? readFileSync(server.sslRootCert, "utf8") : undefined,
                        // verify-ca checks the chain only, like libpq.
                        ...(ssl === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
                    },
    };
}

/** Connects; the caller ends the client. */
export async function connect(server: BackupServer, database: string): Promise<Client> {
    const client = new Client(clientConfig(server, database));
    // An idle client whose server goes away must not crash the process.
    client.on("error", () => undefined);
    await client.connect();
    return client;
}

/**
 * The service's control database: tokens, jobs, their events, idempotency keys and the audit
 * log. A real PostgreSQL from TENANTDB_CONTROL_DATABASE_URL in production; without it, an
 * embedded one under `<work dir>/.tenantdb/serve/` (git-ignored), kept between runs.
 *
 * The schema is plain versioned SQL: each version applied once, in a transaction, under an
 * advisory lock, and recorded in `serve_schema`.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Client, Pool } from "pg";
import { startLocalServer } from "../local/embedded-server";

export const CONTROL_DATABASE_ENV = "TENANTDB_CONTROL_DATABASE_URL";
const EMBEDDED_DATABASE = "tenantdb_control";

const MIGRATIONS: readonly string[] = [
    `CREATE TABLE tokens (
         name        text PRIMARY KEY,
         hash        bytea NOT NULL UNIQUE,
         scopes      text[] NOT NULL,
         created_at  timestamptz NOT NULL DEFAULT now(),
         revoked_at  timestamptz
     );
     CREATE TABLE jobs (
         id          uuid PRIMARY KEY,
         kind        text NOT NULL,
         tenant      text NOT NULL,
         stack       text,
         request     jsonb NOT NULL,
         state       text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
         result      jsonb,
         error       jsonb,
         created_by  text NOT NULL,
         created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
         started_at  timestamptz,
         finished_at timestamptz,
         -- Some requests carry a secret the service never stores (a seed's admin password):
         -- such a job can run only in the process that accepted it.
         needs_secret boolean NOT NULL DEFAULT false
     );
     CREATE INDEX jobs_state ON jobs (state);
     CREATE TABLE job_events (
         seq    bigserial PRIMARY KEY,
         job    uuid NOT NULL REFERENCES jobs (id),
         at     timestamptz NOT NULL DEFAULT clock_timestamp(),
         event  jsonb NOT NULL
     );
     CREATE INDEX job_events_job ON job_events (job, seq);
     CREATE TABLE idempotency_keys (
         token        text NOT NULL,
         key          text NOT NULL,
         request_hash text NOT NULL,
         job          uuid NOT NULL REFERENCES jobs (id),
         created_at   timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (token, key)
     );
     CREATE TABLE audit (
         id              bigserial PRIMARY KEY,
         at              timestamptz NOT NULL DEFAULT clock_timestamp(),
         who             text NOT NULL,
         method          text NOT NULL,
         route           text NOT NULL,
         tenant          text,
         idempotency_key text,
         job             uuid,
         status          integer NOT NULL
     );`,
];

/** The key of the advisory lock one service holds for as long as it runs on a control database. */
const SERVICE_LOCK = 0x74646273; // "tdbs"
const MIGRATION_LOCK = 0x7464626d; // "tdbm"

export interface ControlDatabase {
    readonly pool: Pool;
    /** Where it is, without its password, for logs. */
    readonly description: string;
    close(): Promise<void>;
}

/** The embedded server's folder and data directory under a work dir. */
export function embeddedDataDir(workDir: string): string {
    return path.join(workDir, ".tenantdb", "serve", "pgdata");
}

/**
 * Opens the control database (the embedded one when `url` is undefined) and brings its schema up
 * to date. `service`: this process is the service, which stops the embedded server at close even
 * when a killed service left it running; a token command stops only a server it started.
 */
export async function openControlDatabase(options: { url?: string; workDir: string; service?: boolean }): Promise<ControlDatabase> {
    if (options.url) {
        const pool = new Pool({ connectionString: options.url, max: 10 });
        await migrateControlDatabase(pool);
        return { pool, description: describeUrl(options.url), close: () => pool.end() };
    }
    const embedded = await embeddedServer(options.workDir);
    const admin = { host: embedded.host, port: embedded.port, user: embedded.user, password: embedded.password };
    const client = new Client({ ...admin, database: "postgres" });
    await client.connect();
    try {
        const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [EMBEDDED_DATABASE]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
    } finally {
        await client.end();
    }
    const pool = new Pool({ ...admin, database: EMBEDDED_DATABASE, max: 10 });
    await migrateControlDatabase(pool);
    return {
        pool,
        description: `embedded PostgreSQL on 127.0.0.1:${embedded.port} (${embeddedDataDir(options.workDir)})`,
        close: async () => {
            await pool.end();
            if (embedded.stop) await embedded.stop();
            else if (options.service) embedded.stopLeftOver();
        },
    };
}

/**
 * The embedded server: the one already running on the data directory (a service or a token
 * command started it; a killed service leaves it running), else a new one this process stops.
 */
async function embeddedServer(workDir: string) {
    const dataDir = embeddedDataDir(workDir);
    const pidFile = path.join(dataDir, "postmaster.pid");
    const passwordFile = `${dataDir}.password`;
    if (existsSync(pidFile) && existsSync(passwordFile)) {
        // postmaster.pid: the postmaster's PID on its first line, the port it listens on on its fourth.
        const [pid, , , port] = readFileSync(pidFile, "utf8").split("\n").map(Number);
        const running = { host: "127.0.0.1", port, user: "postgres", password: readFileSync(passwordFile, "utf8").trim() };
        const probe = new Client({ ...running, database: "postgres", connectionTimeoutMillis: 2000 });
        try {
            await probe.connect();
            await probe.end();
            // SIGINT: PostgreSQL's fast shutdown (sessions ended, a clean checkpoint).
            return { ...running, stop: undefined, stopLeftOver: () => process.kill(pid, "SIGINT") };
        } catch {
            await probe.end().catch(() => undefined);
        }
    }
    const server = await startLocalServer({ dataDir, persistent: true });
    return { ...server, stop: () => server.stop(), stopLeftOver: () => undefined };
}

function describeUrl(url: string): string {
    try {
        const parsed = new URL(url);
        return `PostgreSQL ${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
    } catch {
        return "PostgreSQL (from TENANTDB_CONTROL_DATABASE_URL)";
    }
}

export async function migrateControlDatabase(pool: Pool): Promise<void> {
    const client = await pool.connect();
    try {
        await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
        await client.query(
            "CREATE TABLE IF NOT EXISTS serve_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        );
        const { rows } = await client.query<{ version: number }>("SELECT coalesce(max(version), 0) AS version FROM serve_schema");
        for (let version = rows[0].version + 1; version <= MIGRATIONS.length; version++) {
            await client.query("BEGIN");
            try {
                await client.query(MIGRATIONS[version - 1]);
                await client.query("INSERT INTO serve_schema (version) VALUES ($1)", [version]);
                await client.query("COMMIT");
            } catch (error) {
                await client.query("ROLLBACK");
                throw error;
            }
        }
    } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
        client.release();
    }
}

/**
 * Takes the one-service-per-control-database lock on a connection of its own, held until
 * `release` (or the process dies: the server drops a dead session's locks). Two services on one
 * database would both recover "running" jobs and could run a queued one twice.
 */
export async function takeServiceLock(pool: Pool): Promise<{ release(): Promise<void> }> {
    const client = await pool.connect();
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [SERVICE_LOCK]);
    if (!rows[0].locked) {
        client.release();
        throw new Error(
            "another tenantdb serve is running on this control database (it holds its advisory lock); stop it first, or give this one its own database",
        );
    }
    return {
        release: async () => {
            await client.query("SELECT pg_advisory_unlock($1)", [SERVICE_LOCK]).catch(() => undefined);
            client.release();
        },
    };
}

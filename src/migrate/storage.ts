/**
 * umzug's storage on the tenant's `tenantdb.migrations` table, sharing each migration's
 * transaction: the migration's up (or down) opens it with `begin` and leaves it open, and
 * logMigration (or unlogMigration), which umzug calls right after, writes the bookkeeping row
 * and the schema fingerprint and commits. A migration and its row commit or roll back together.
 * umzug's own storages write the row after the migration, in a separate commit, so a failure in
 * between leaves a migration applied but unrecorded (sequelize/umzug#708, mikro-orm/mikro-orm#7676).
 * The bookkeeping proves that the transaction is still the one begun for it (runtime-guard.ts).
 */
import type { ClientBase } from "pg";
import type { MigrationParams, UmzugStorage } from "umzug";
import { MIGRATIONS_SCHEMA } from "../naming";
import { quoteIdentifier as ident, quoteLiteral as literal } from "../shared/sql";
import type { Catalog, LocalMigration } from "./catalog";
import { fingerprintOf, setFingerprintSql } from "./fingerprint";
import type { Drift } from "./plan";
import type { EndedTransaction } from "./runner-errors";
import { guardedBookkeeping, rollBackAndCheck, transactionIdOf, transactionStart } from "./runtime-guard";
import type { AppliedMigration, MigrationContext } from "./types";

const TABLE = `${ident(MIGRATIONS_SCHEMA)}.migrations`;

/** The migration's own time, from its BEGIN (now() is the transaction's start) to its row. */
const ELAPSED_MS = "(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer";

/** The migration whose transaction is open, and that transaction's id once BEGIN has answered. */
interface OpenTransaction {
    readonly name: string;
    xid?: string;
}

/** A migration's transaction, rolled back after a failure; `ended` when the migration had ended it itself. */
export interface Abandoned {
    readonly name: string;
    readonly ended?: EndedTransaction;
}

export class MigrationsTable implements UmzugStorage<MigrationContext> {
    /** The migration whose transaction is open: begun by its up or down, ended by its bookkeeping. */
    private open: OpenTransaction | undefined;
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

    /**
     * Opens `migration`'s transaction, then runs `sql` in it as a query of its own, so that the server
     * reads it with the settings the opening set (see transactionStart); an error aborts the rest.
     */
    async begin(migration: LocalMigration, sql = ""): Promise<void> {
        if (this.open !== undefined) throw new Error(`cannot begin ${migration.name}: the transaction of ${this.open.name} is still open`);
        const open: OpenTransaction = { name: migration.name };
        this.open = open;
        open.xid = transactionIdOf(await this.client.query(transactionStart(migration)));
        if (sql.trim() !== "") await this.client.query(sql);
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
        return (await this.abandon())?.name;
    }

    /**
     * rollbackOpen, also saying whether the migration had ended its transaction itself (so its
     * changes may be committed without its row). undefined when no transaction was open.
     */
    async abandon(): Promise<Abandoned | undefined> {
        const open = this.open;
        if (open === undefined) return undefined;
        this.open = undefined;
        if (open.xid === undefined) {
            // BEGIN did not answer: none of the migration ran.
            await this.client.query("ROLLBACK").catch(() => undefined);
            return { name: open.name };
        }
        const ended = await rollBackAndCheck(this.client, open.xid);
        return ended ? { name: open.name, ended } : { name: open.name };
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
        const xid = this.open?.name === name ? this.open.xid : undefined;
        if (xid === undefined)
            throw new Error(`refusing to record ${name} outside its own transaction (open: ${this.open?.name ?? "none"})`);
        await this.client.query(`${guardedBookkeeping(name, xid, row)}\n${setFingerprintSql(fingerprintOf(after))}\nCOMMIT;`);
        this.open = undefined;
        this.rows = after;
    }
}

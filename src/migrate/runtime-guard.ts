/**
 * Proof, at run time, that a migration's bookkeeping row is written in the very transaction the
 * runner began for it. The catalog refuses transaction control in SQL files and TypeScript
 * migrations get a client that refuses it (guarded-client.ts), but neither sees everything the
 * server runs: `set_config('standard_conforming_strings', 'off', false)` makes the server read a
 * later `SELECT 'x\''; COMMIT; --'` otherwise than the parser did, and a TypeScript migration can
 * reach the raw connection. So the runner takes the transaction's id at BEGIN, writes the row only
 * if the transaction is still that one (checked in the statement that writes it), and after a
 * failure asks the server what became of that transaction, so that the report tells the truth.
 *
 * The id, not a `SET LOCAL` nonce: a migration could read a nonce and set it again in a
 * transaction of its own, but it cannot make its transaction have another one's id.
 */
import type { ClientBase, QueryResult } from "pg";
import { quoteLiteral as literal } from "../shared/sql";
import type { LocalMigration } from "./catalog";
import type { EndedTransaction } from "./runner-errors";

/** SQLSTATE of the bookkeeping's refusal, in a class of tenantdb's own that no server error uses. */
export const LOST_TRANSACTION_SQLSTATE = "TDB01";

/**
 * Opens a migration's transaction in one round trip, before any of the migration runs, and
 * answers its id (pg_current_xact_id() assigns one now; the bookkeeping row would anyway).
 *
 * standard_conforming_strings and client_encoding decide how the server splits the text it is
 * sent: a previous migration (`SET standard_conforming_strings = off`), `ALTER ROLE/DATABASE ...
 * SET` or a TypeScript migration's `SET NAMES` could otherwise make it read this migration's SQL
 * otherwise than PostgreSQL's parser did when the catalog was loaded (escape_string_warning and
 * backslash_quote change no split: they warn or refuse). They take effect from the next query on,
 * so the migration's SQL is always a query of its own; this text itself reads the same either way.
 * Not LOCAL, so the runner's own later queries are read that way too.
 */
export function transactionStart(migration: LocalMigration): string {
    return [
        "BEGIN;",
        "SET standard_conforming_strings = on;",
        "SET client_encoding = 'UTF8';",
        `SET LOCAL lock_timeout = ${literal(migration.lockTimeout)};`,
        `SET LOCAL statement_timeout = ${literal(migration.statementTimeout)};`,
        "SELECT pg_current_xact_id()::text AS xid;",
    ].join("\n");
}

/** The transaction id answered by transactionStart's text. */
export function transactionIdOf(results: QueryResult | QueryResult[]): string {
    const xid: unknown = [results].flat().at(-1)?.rows[0]?.xid;
    if (typeof xid !== "string" || !/^\d+$/.test(xid)) throw new Error(`BEGIN answered no transaction id (${String(xid)})`);
    return xid;
}

/**
 * `statement` (the bookkeeping row's INSERT or DELETE), run only inside transaction `xid`. Outside
 * it (the migration committed or rolled back the runner's transaction, and the server runs this
 * text in a transaction of its own) it raises, and nothing of the text it starts runs: neither the
 * row, nor the fingerprint, nor the COMMIT that follows it.
 */
export function guardedBookkeeping(migration: string, xid: string, statement: string): string {
    const refusal = `tenantdb: refusing to record ${migration}: the transaction the runner began for it (${xid}) was ended by the migration`;
    return `DO $tenantdb_guard$ BEGIN
    IF pg_current_xact_id()::text IS DISTINCT FROM ${literal(xid)} THEN
        RAISE EXCEPTION USING ERRCODE = '${LOST_TRANSACTION_SQLSTATE}', MESSAGE = ${literal(refusal)};
    END IF;
    ${statement}
END $tenantdb_guard$;`;
}

const ABORTED_BLOCK = Symbol("a failed transaction block is open");

/** The open transaction's id, null without one, ABORTED_BLOCK in a failed block, undefined when the server cannot answer. */
async function currentTransaction(client: ClientBase): Promise<string | null | typeof ABORTED_BLOCK | undefined> {
    try {
        return (await client.query<{ xid: string | null }>("SELECT pg_current_xact_id_if_assigned()::text AS xid")).rows[0].xid;
    } catch (error) {
        return (error as { code?: string }).code === "25P02" ? ABORTED_BLOCK : undefined;
    }
}

/**
 * Rolls back whatever transaction is open after a migration (or its bookkeeping) failed, then says
 * whether the migration had ended transaction `xid` itself: "committed" when the server has it
 * committed (whatever came after), "rolled back" or "ended" when another transaction, or none, was
 * open instead. undefined when `xid` was still open (now rolled back: nothing of it stays).
 */
export async function rollBackAndCheck(client: ClientBase, xid: string): Promise<EndedTransaction | undefined> {
    const open = await currentTransaction(client);
    await client.query("ROLLBACK").catch(() => undefined);
    const status = await client
        .query<{ status: string | null }>(`SELECT pg_xact_status(${literal(xid)}::xid8) AS status`)
        .then((result) => result.rows[0].status)
        .catch(() => undefined);
    if (status === "committed") return "committed";
    // A failed block is taken for the runner's own. It is not when the migration rolled the runner's back, ran statements
    // (each committed at once), began a transaction of its own and failed in it: those statements go unreported.
    if (open === undefined || open === ABORTED_BLOCK || open === xid) return undefined;
    return status === "aborted" ? "rolled back" : "ended";
}

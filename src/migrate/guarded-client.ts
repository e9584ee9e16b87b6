/**
 * The connection a TypeScript migration gets: the runner's own, whose `query` first reads each SQL
 * text with PostgreSQL's parser (sql-statements.ts) and refuses, unsent, what would defeat the
 * runner's transaction, as the catalog does for SQL files. Everything else is the client itself,
 * so the type stays `ClientBase` and migrations use it as before.
 *
 * Refused:
 * - transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION...): it would
 *   end or split the transaction the migration and its bookkeeping row share;
 * - SET/RESET of standard_conforming_strings or client_encoding (SET NAMES), and RESET ALL, which
 *   resets both to what ALTER ROLE/DATABASE set: they change how the server splits the text of
 *   later queries, so this check would no longer see what the server runs.
 * Not refused: SET ROLE / SESSION AUTHORIZATION (they change neither the transaction nor how text
 * is read; the server refuses SESSION AUTHORIZATION to a migrator that is no superuser), nor
 * set_config() calls, which would take evaluating the query: runtime-guard.ts catches what a
 * COMMIT behind one does.
 */
import type { ClientBase } from "pg";
import { MigrationStatementRefusedError, RefusedBecause } from "./runner-errors";
import { lexedStatements, SqlSyntaxError, sqlStatements } from "./sql-statements";

/** Settings that change how the server reads query text (the server converts from client_encoding before it lexes). */
const LEXER_SETTINGS = new Set(["standard_conforming_strings", "client_encoding"]);
/** How a transaction statement starts, as in catalog.ts, for text the grammar refuses. */
const TRANSACTION_WORDS = /^(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE TRANSACTION)\b/;

interface Refusal {
    readonly statement: string;
    readonly because: RefusedBecause;
}

const firstWords = (text: string) => text.split(/\s+/).slice(0, 3).join(" ");

/** What the lexer alone shows, for text the grammar refuses (another server version may accept it). */
function refusedTokens(tokens: readonly string[]): RefusedBecause | undefined {
    const words = tokens.map((token) => token.toLowerCase().replace(/^"(.*)"$/, "$1"));
    if (TRANSACTION_WORDS.test(words.slice(0, 2).join(" ").toUpperCase())) return "transaction";
    if (words[0] !== "set" && words[0] !== "reset") return undefined;
    const name = words[1] === "session" || words[1] === "local" ? words[2] : words[1];
    return name === "all" || name === "names" || LEXER_SETTINGS.has(name) ? "lexing" : undefined;
}

/** The first statement of `sql` that a migration must not send, if any. */
export function refusedStatement(sql: string): Refusal | undefined {
    try {
        for (const { kind, node, text } of sqlStatements(sql)) {
            if (kind === "TransactionStmt") return { statement: firstWords(text), because: "transaction" };
            if (kind !== "VariableSetStmt") continue;
            const set = (node as { VariableSetStmt: { kind?: string; name?: string } }).VariableSetStmt;
            if (set.kind === "VAR_RESET_ALL" || LEXER_SETTINGS.has(set.name ?? ""))
                return { statement: firstWords(text), because: "lexing" };
        }
        return undefined;
    } catch (error) {
        if (!(error instanceof SqlSyntaxError)) throw error;
        // Text the lexer refuses too is refused whole by the server, before any of it runs.
        for (const { tokens } of lexedStatements(sql) ?? []) {
            const because = refusedTokens(tokens);
            if (because) return { statement: tokens.slice(0, 3).join(" "), because };
        }
        return undefined;
    }
}

/** The SQL text of query()'s first argument: a string, a config object, or a submittable (pg-cursor, pg-query-stream). */
function textOf(query: unknown): string | undefined {
    if (typeof query === "string") return query;
    const candidate = query as { text?: unknown; cursor?: { text?: unknown } } | null;
    const text = candidate?.text ?? candidate?.cursor?.text;
    return typeof text === "string" ? text : undefined;
}

/** `client` as `migration` may use it: the same connection, with `query` refusing what the module comment lists. */
export function guardedClient(client: ClientBase, migration: string): ClientBase {
    const query = (...args: unknown[]): unknown => {
        const text = textOf(args[0]);
        const refusal: Refusal | undefined =
            text === undefined
                ? { statement: `a ${(args[0] as object | null)?.constructor?.name ?? typeof args[0]}`, because: "unreadable" }
                : refusedStatement(text);
        if (refusal === undefined) return (client.query as (...a: unknown[]) => unknown).apply(client, args);
        const error = new MigrationStatementRefusedError(migration, refusal.statement, refusal.because);
        const callback = args.at(-1);
        if (typeof callback !== "function") return Promise.reject(error);
        process.nextTick(() => callback(error));
        return undefined;
    };
    return new Proxy(client, {
        get(target, property) {
            if (property === "query") return query;
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === "function" ? value.bind(target) : value;
        },
    });
}

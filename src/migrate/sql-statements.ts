/**
 * The top-level statements of a SQL text as PostgreSQL itself reads them: libpg_query (the
 * server's own parser, compiled to WASM; npm `libpg-query`) instead of a hand-written lexer, so
 * `$$` inside a string, `E'\''`, nested dollar tags and comments split statements exactly as on
 * the server. The catalog uses it to refuse transaction control in migrations; a `migrate lint`
 * can reuse the same statements (parse tree node, text, line).
 */
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { Node, ParseResult, ScanResult } from "libpg-query";

export interface SqlStatement {
    /** The parse tree node type: "TransactionStmt", "CreateStmt", "AlterTableStmt", "IndexStmt", "DoStmt"... */
    readonly kind: string;
    /** The parse tree, `{ [kind]: fields }`, e.g. `{ TransactionStmt: { kind: "TRANS_STMT_COMMIT" } }`. */
    readonly node: Node;
    /** As written, from its first token up to its semicolon (or to the end of the text, comments after it included). */
    readonly text: string;
    /** 1-based line of its first token, counted from `firstLine`. */
    readonly line: number;
}

/** A statement as the lexer alone delimits it, for text the grammar refuses. */
export interface LexedStatement {
    /** Its tokens without comments, as written (keywords in their original case). */
    readonly tokens: readonly string[];
    readonly line: number;
}

export interface SqlSource {
    /** What the text is, for messages: e.g. `migration file migrations/0004_x.sql`. Default "SQL". */
    readonly source?: string;
    /** The file line the text starts on (a migration's section starts inside its file). Default 1. */
    readonly firstLine?: number;
}

export class SqlSyntaxError extends Error {
    constructor(
        readonly source: string,
        readonly line: number,
        readonly parserMessage: string,
    ) {
        super(`${source}: line ${line}: ${parserMessage} (PostgreSQL's parser). Fix: correct the SQL on that line`);
        this.name = "SqlSyntaxError";
    }
}

type Reply<T> = { result: T } | { error: { message: string; cursorPosition?: number } } | { unavailable: string };

/*
 * libpg-query loads its WASM only asynchronously, while the catalog is loaded synchronously (by the
 * CLI, the fleet runner, the tests). So the parser runs in a worker thread, loaded once per process,
 * and each call blocks on Atomics.wait until the worker has answered (synckit's technique). The
 * worker is unref'd: it never keeps the process alive.
 */
const WORKER = `
const { workerData } = require("node:worker_threads");
const { port, signal, modulePath } = workerData;
const loading = (async () => { const parser = require(modulePath); await parser.loadModule(); return parser; })();
loading.catch(() => undefined);
port.on("message", async ({ operation, sql }) => {
    let reply;
    try {
        const parser = await loading;
        try {
            reply = { result: operation === "parse" ? parser.parseSync(sql) : parser.scanSync(sql) };
        } catch (error) {
            reply = { error: { message: String(error && error.message), cursorPosition: error && error.sqlDetails && error.sqlDetails.cursorPosition } };
        }
    } catch (error) {
        reply = { unavailable: String((error && error.message) || error) };
    }
    port.postMessage(reply);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
});
`;
/** Generous: the first call compiles the WASM (well under a second on a small machine). */
const ANSWER_TIMEOUT_MS = 60_000;

let parser: { worker: Worker; port: MessagePort; signal: Int32Array } | undefined;

function startParser(): NonNullable<typeof parser> {
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER, {
        eval: true,
        // Plain JavaScript: no need for the parent's loaders (tsx).
        execArgv: [],
        workerData: { port: port2, signal, modulePath: require.resolve("libpg-query") },
        transferList: [port2],
    });
    worker.unref();
    port1.unref();
    // A crashed worker cannot answer: the waiting call times out, and the next call starts a new one.
    worker.on("error", () => undefined);
    worker.on("exit", () => {
        if (parser?.worker === worker) parser = undefined;
    });
    return { worker, port: port1, signal };
}

function callParser<T>(operation: "parse" | "scan", sql: string): { result: T } | { error: { message: string; cursorPosition?: number } } {
    parser ??= startParser();
    const { worker, port, signal } = parser;
    Atomics.store(signal, 0, 0);
    port.postMessage({ operation, sql });
    if (Atomics.wait(signal, 0, 0, ANSWER_TIMEOUT_MS) === "timed-out") {
        parser = undefined;
        void worker.terminate();
        throw new Error(
            `PostgreSQL's parser (libpg-query) did not answer within ${ANSWER_TIMEOUT_MS / 1000} s. Fix: reinstall it (npm ci)`,
        );
    }
    const reply = receiveMessageOnPort(port)?.message as Reply<T> | undefined;
    if (!reply) throw new Error("PostgreSQL's parser (libpg-query) woke without an answer. Fix: report this as a bug");
    if ("unavailable" in reply)
        throw new Error(`cannot load PostgreSQL's parser (libpg-query): ${reply.unavailable}. Fix: reinstall it (npm ci)`);
    return reply;
}

/** The file line of `index` (a character offset) in `sql`. */
const lineAt = (sql: string, index: number, firstLine: number) => firstLine + (sql.slice(0, index).match(/\n/g)?.length ?? 0);

/** Newlines in `bytes` before `end`: the parser's locations are byte offsets into the UTF-8 text. */
function newlinesBefore(bytes: Buffer, end: number): number {
    let count = 0;
    for (let i = bytes.indexOf(10); i >= 0 && i < end; i = bytes.indexOf(10, i + 1)) count++;
    return count;
}

/**
 * The top-level statements of `sql`, in order. Bodies (DO blocks, functions) stay inside their
 * statement: a BEGIN ... END in plpgsql is part of a DoStmt or CreateFunctionStmt, not a statement.
 * Throws SqlSyntaxError, with the line, when PostgreSQL's grammar refuses the text.
 */
export function sqlStatements(sql: string, where: SqlSource = {}): SqlStatement[] {
    const source = where.source ?? "SQL";
    const firstLine = where.firstLine ?? 1;
    // The text reaches the parser as a C string, which would end at a NUL and hide what follows.
    const nul = sql.indexOf("\0");
    if (nul >= 0) throw new SqlSyntaxError(source, lineAt(sql, nul, firstLine), "a NUL character, which PostgreSQL refuses in a query");
    if (sql === "") return []; // the binding refuses an empty string; blank or comment-only text parses to nothing
    const reply = callParser<ParseResult>("parse", sql);
    if ("error" in reply) {
        const position = reply.error.cursorPosition ?? sql.length; // 0-based, in characters
        throw new SqlSyntaxError(source, lineAt(sql, position, firstLine), reply.error.message);
    }
    const bytes = Buffer.from(sql, "utf8");
    return (reply.result.stmts ?? []).map(({ stmt, stmt_location: start = 0, stmt_len: length = 0 }) => {
        const node = stmt as Node;
        return {
            kind: Object.keys(node)[0],
            node,
            // A length of 0 means "to the end of the text" (a last statement without a semicolon).
            text: bytes.toString("utf8", start, length ? start + length : bytes.length).trimEnd(),
            line: firstLine + newlinesBefore(bytes, start),
        };
    });
}

/**
 * The statements of `sql` as PostgreSQL's lexer alone splits them, at each `;` token, for text the
 * grammar refuses. A server of another major version may accept what this parser's grammar refuses
 * (a column named system_user is fine on 15, reserved from 16 on), and the lexer (quotes, dollar
 * bodies, comments) is the same in every version: so these are the statements such a server would
 * run. undefined when the lexer refuses the text too (an unterminated quote or comment, a NUL).
 */
export function lexedStatements(sql: string, where: SqlSource = {}): LexedStatement[] | undefined {
    const firstLine = where.firstLine ?? 1;
    if (sql.includes("\0")) return undefined;
    // The binding writes token texts into JSON without escaping control characters. Each is one
    // byte; none delimits a quote, a comment or a statement (VT and FF are whitespace, the others
    // are refused by the server outside quotes and comments), so a space in its place changes nothing here.
    // eslint-disable-next-line no-control-regex
    const reply = callParser<ScanResult>("scan", sql.replace(/[\x01-\x08\x0b\x0c\x0e-\x1f]/g, " "));
    if ("error" in reply) return undefined;
    const bytes = Buffer.from(sql, "utf8");
    const statements: LexedStatement[] = [];
    let current: { tokens: string[]; line: number } | undefined;
    for (const token of reply.result.tokens ?? []) {
        if (token.tokenName === "SQL_COMMENT" || token.tokenName === "C_COMMENT") continue;
        if (token.text === ";") {
            if (current) statements.push(current);
            current = undefined;
            continue;
        }
        current ??= { tokens: [], line: firstLine + newlinesBefore(bytes, token.start) };
        current.tokens.push(bytes.toString("utf8", token.start, token.end));
    }
    if (current) statements.push(current);
    return statements;
}

/**
 * The local list of migrations: SQL files (`-- migrate:up` / `-- migrate:down` sections)
 * and TypeScript migrations registered in `migrations/index.ts`, sorted by name, each with
 * the checksum that detects an applied file edited afterwards.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { codeMigrations } from "../../migrations";
import { lexedStatements, SqlSyntaxError, sqlStatements } from "./sql-statements";
import type { CodeMigration } from "./types";

export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, "../../migrations");
export const DEFAULT_LOCK_TIMEOUT = "5s";
export const DEFAULT_STATEMENT_TIMEOUT = "5min";

/** A migration's name: four digits, an underscore, lower_snake_case. */
export const MIGRATION_NAME = /^\d{4}_[a-z0-9_]+$/;
const TIMEOUT = /^\d+\s*(ms|s|min|h)?$/;
const SETTINGS_LINE = /^--\s*tenantdb:\s*(.*)$/m;
/** How a transaction statement starts (any form: COMMIT WORK, ABORT, PREPARE TRANSACTION...), for text the grammar refuses. */
const TRANSACTION_WORDS = /^(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE TRANSACTION)\b/;

/** A top-level statement that would end or split the runner's transaction. */
export interface TransactionControl {
    readonly line: number;
    /** Its first words as written, e.g. "COMMIT WORK". */
    readonly words: string;
    /** Set when PostgreSQL's grammar refuses the text, so the statement was found by the lexer alone. */
    readonly unparsed?: SqlSyntaxError;
}

/**
 * The first top-level statement of `sql` that controls transactions, if any, as PostgreSQL's own
 * parser reads it: quoting and dollar-quoted bodies (plpgsql's BEGIN ... END) are the server's, so
 * only real statements count. Throws SqlSyntaxError when not even the lexer can read `sql`.
 */
export function transactionControlStatement(sql: string, firstLine = 1): TransactionControl | undefined {
    try {
        const found = sqlStatements(sql, { firstLine }).find((statement) => statement.kind === "TransactionStmt");
        return found && { line: found.line, words: found.text.split(/\s+/).slice(0, 3).join(" ") };
    } catch (error) {
        if (!(error instanceof SqlSyntaxError)) throw error;
        // The server may be of a version whose grammar accepts the text; its lexer is the same. When
        // the lexer cannot read it either, every server refuses it whole, but nothing can be checked here.
        const lexed = lexedStatements(sql, { firstLine });
        if (!lexed) throw error;
        const found = lexed.find((statement) => TRANSACTION_WORDS.test(statement.tokens.slice(0, 2).join(" ").toUpperCase()));
        return found && { line: found.line, words: found.tokens.slice(0, 3).join(" "), unparsed: error };
    }
}

export interface LocalMigration {
    /** File name without extension, e.g. `0001_baseline`; the version a tenant is at. */
    readonly name: string;
    readonly file: string;
    /** sha256 of the file, line endings normalised so a checkout with CRLF is not drift. */
    readonly checksum: string;
    readonly lockTimeout: string;
    readonly statementTimeout: string;
    readonly upSql?: string;
    readonly downSql?: string;
    /** Line of the file where the up section starts, to translate error positions. */
    readonly upLine?: number;
    readonly downLine?: number;
    readonly code?: CodeMigration;
    readonly hasDown: boolean;
}

export interface Catalog {
    readonly directory: string;
    readonly migrations: readonly LocalMigration[];
}

export class CatalogError extends Error {
    constructor(
        file: string,
        /** What is wrong and the fix, without the file's path. */
        readonly problem: string,
    ) {
        super(`migration file ${file}: ${problem}`);
        this.name = "CatalogError";
    }
}

export function checksumOf(text: string): string {
    return createHash("sha256").update(text.replace(/\r\n/g, "\n")).digest("hex");
}

function checkTimeout(file: string, setting: string, value: string): string {
    if (!TIMEOUT.test(value)) throw new CatalogError(file, `${setting} "${value}" is not a duration like 500ms, 5s or 2min`);
    return value.replace(/\s+/g, "");
}

/** Reads `-- tenantdb: lock_timeout=5s statement_timeout=2min` from a SQL file's header. */
function parseSettings(file: string, header: string): { lockTimeout: string; statementTimeout: string } {
    const settings = { lockTimeout: DEFAULT_LOCK_TIMEOUT, statementTimeout: DEFAULT_STATEMENT_TIMEOUT };
    const line = SETTINGS_LINE.exec(header);
    if (!line) return settings;
    for (const pair of line[1]
        .trim()
        .split(/[\s,]+/)
        .filter(Boolean)) {
        const [key, value = ""] = pair.split("=");
        if (key === "lock_timeout") settings.lockTimeout = checkTimeout(file, key, value);
        else if (key === "statement_timeout") settings.statementTimeout = checkTimeout(file, key, value);
        else throw new CatalogError(file, `unknown setting "${key}" (known: lock_timeout, statement_timeout)`);
    }
    return settings;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length;

/** Each migration runs inside the runner's transaction, together with its bookkeeping row: a section must not end or split it. */
function refuseTransactionControl(file: string, section: string, firstLine: number): void {
    let control: TransactionControl | undefined;
    try {
        control = transactionControlStatement(section, firstLine);
    } catch (error) {
        if (!(error instanceof SqlSyntaxError)) throw error;
        throw new CatalogError(file, `line ${error.line}: ${error.parserMessage} (PostgreSQL's parser). Fix: correct the SQL on that line`);
    }
    // A section the grammar refuses but without transaction control loads: the server parses a whole
    // section before running any of it, and the run reports its error with the file and line.
    if (!control) return;
    const alsoUnparsed = control.unparsed
        ? ` (PostgreSQL's parser also refuses line ${control.unparsed.line}: ${control.unparsed.parserMessage})`
        : "";
    throw new CatalogError(
        file,
        `line ${control.line}: must not contain "${control.words}": the runner wraps each migration in a transaction with its bookkeeping row` +
            `${alsoUnparsed}. Fix: remove the statement; the migration commits or rolls back as a whole`,
    );
}

/** A SQL migration file cut into its header and `-- migrate:up` / `-- migrate:down` sections, with the file line each starts on. */
export interface SqlSections {
    readonly header: string;
    readonly upSql: string;
    readonly upLine: number;
    readonly downSql?: string;
    readonly downLine?: number;
}

/** Cuts a SQL migration into its sections, as the runner reads them (also used by `migrate lint`). */
export function sqlSections(file: string, text: string): SqlSections {
    const normalised = text.replace(/\r\n/g, "\n");
    const upMarker = /^--\s*migrate:up\s*$/m.exec(normalised);
    if (!upMarker) throw new CatalogError(file, 'has no "-- migrate:up" line');
    const downMarker = /^--\s*migrate:down\s*$/m.exec(normalised);
    if (downMarker && downMarker.index < upMarker.index) throw new CatalogError(file, '"-- migrate:down" comes before "-- migrate:up"');
    const upStart = upMarker.index + upMarker[0].length;
    const downStart = downMarker ? downMarker.index + downMarker[0].length : undefined;
    return {
        header: normalised.slice(0, upMarker.index),
        upSql: normalised.slice(upStart, downMarker?.index),
        upLine: lineOf(normalised, upStart),
        downSql: downStart === undefined ? undefined : normalised.slice(downStart),
        downLine: downStart === undefined ? undefined : lineOf(normalised, downStart),
    };
}

function parseSqlMigration(name: string, file: string, text: string): LocalMigration {
    const { header, upSql, upLine, downSql, downLine } = sqlSections(file, text);
    refuseTransactionControl(file, upSql, upLine);
    if (downSql !== undefined && downLine !== undefined) refuseTransactionControl(file, downSql, downLine);
    if (upSql.trim() === "") throw new CatalogError(file, "has an empty up section");
    return {
        name,
        file,
        checksum: checksumOf(text),
        ...parseSettings(file, header),
        upSql,
        downSql: downSql?.trim() ? downSql : undefined,
        upLine,
        downLine,
        hasDown: Boolean(downSql?.trim()),
    };
}

/**
 * Loads the migrations of `directory`. TypeScript migrations are imported statically in
 * `migrations/index.ts` (the registry); a `.ts` file missing from it is an error, not skipped.
 */
export function loadCatalog(directory = DEFAULT_MIGRATIONS_DIR, code: Readonly<Record<string, CodeMigration>> = codeMigrations): Catalog {
    const { catalog, refused } = loadCatalogReport(directory, code);
    if (refused.length > 0) throw refused[0].error;
    return catalog;
}

/** A migration file the runner refuses to load, with the error it would stop on. */
export interface RefusedFile {
    readonly name: string;
    readonly file: string;
    readonly error: CatalogError;
}

/**
 * Every file of `directory` loaded on its own: the catalog of those that load, and each refused
 * one with its error (loadCatalog stops at the first). For a preview that names every problem.
 */
export function loadCatalogReport(
    directory = DEFAULT_MIGRATIONS_DIR,
    code: Readonly<Record<string, CodeMigration>> = codeMigrations,
): { catalog: Catalog; refused: RefusedFile[] } {
    const migrations: LocalMigration[] = [];
    const refused: RefusedFile[] = [];
    for (const entry of readdirSync(directory).sort()) {
        const file = path.join(directory, entry);
        const extension = path.extname(entry);
        const name = path.basename(entry, extension);
        if (extension === ".ts" && name === "index") continue;
        if (extension !== ".sql" && extension !== ".ts") continue;
        try {
            migrations.push(loadMigrationFile(name, file, extension, code));
        } catch (error) {
            if (!(error instanceof CatalogError)) throw error;
            refused.push({ name, file, error });
        }
    }
    const names = migrations.map((m) => m.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw new CatalogError(path.join(directory, duplicate), "exists both as .sql and .ts");
    if (migrations.length === 0 && refused.length === 0) throw new CatalogError(directory, "no migrations found");
    return { catalog: { directory, migrations }, refused };
}

function loadMigrationFile(name: string, file: string, extension: string, code: Readonly<Record<string, CodeMigration>>): LocalMigration {
    if (!MIGRATION_NAME.test(name)) throw new CatalogError(file, "name must look like 0001_lower_snake_case");
    const text = readFileSync(file, "utf8");
    if (extension === ".sql") return parseSqlMigration(name, file, text);
    const migration = code[name];
    if (!migration) throw new CatalogError(file, `is not registered in migrations/index.ts (add it to codeMigrations as "${name}")`);
    return {
        name,
        file,
        checksum: checksumOf(text),
        lockTimeout: checkTimeout(file, "lockTimeout", migration.lockTimeout ?? DEFAULT_LOCK_TIMEOUT),
        statementTimeout: checkTimeout(file, "statementTimeout", migration.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT),
        code: migration,
        hasDown: typeof migration.down === "function",
    };
}

/**
 * The local list of migrations: SQL files (`-- migrate:up` / `-- migrate:down` sections)
 * and TypeScript migrations registered in `migrations/index.ts`, sorted by name, each with
 * the checksum that detects an applied file edited afterwards.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { codeMigrations } from "../../migrations";
import type { CodeMigration } from "./types";

export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, "../../migrations");
export const DEFAULT_LOCK_TIMEOUT = "5s";
export const DEFAULT_STATEMENT_TIMEOUT = "5min";

const NAME = /^\d{4}_[a-z0-9_]+$/;
const TIMEOUT = /^\d+\s*(ms|s|min|h)?$/;
const SETTINGS_LINE = /^--\s*tenantdb:\s*(.*)$/m;
/** Statements that would end or split the runner's transaction (any form: COMMIT WORK, ABORT...). */
const TRANSACTION_CONTROL = /^(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i;

/**
 * The first top-level statement of `sql` that controls transactions, if any. Comments, quoted
 * strings and dollar-quoted bodies (plpgsql's BEGIN ... END;) are skipped, so only real
 * statements count.
 */
export function transactionControlStatement(sql: string): string | undefined {
    const code = sql
        .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, " ")
        .replace(/'(?:[^']|'')*'/g, " ")
        .replace(/--[^\n]*/g, " ")
        .replace(/\/\*[\s\S]*?\*\//g, " ");
    return code
        .split(";")
        .map((statement) => statement.trim())
        .find((statement) => TRANSACTION_CONTROL.test(statement));
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
    constructor(file: string, problem: string) {
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

function parseSqlMigration(name: string, file: string, text: string): LocalMigration {
    const normalised = text.replace(/\r\n/g, "\n");
    const upMarker = /^--\s*migrate:up\s*$/m.exec(normalised);
    if (!upMarker) throw new CatalogError(file, 'has no "-- migrate:up" line');
    const downMarker = /^--\s*migrate:down\s*$/m.exec(normalised);
    if (downMarker && downMarker.index < upMarker.index) throw new CatalogError(file, '"-- migrate:down" comes before "-- migrate:up"');
    const upStart = upMarker.index + upMarker[0].length;
    const upSql = normalised.slice(upStart, downMarker?.index);
    const downSql = downMarker ? normalised.slice(downMarker.index + downMarker[0].length) : undefined;
    // Each migration runs inside the runner's transaction, together with its bookkeeping row.
    for (const section of [upSql, downSql ?? ""]) {
        const control = transactionControlStatement(section);
        if (control)
            throw new CatalogError(
                file,
                `must not contain "${control.split(/\s+/).slice(0, 3).join(" ")}": the runner wraps each migration in a transaction with its bookkeeping row`,
            );
    }
    if (upSql.trim() === "") throw new CatalogError(file, "has an empty up section");
    return {
        name,
        file,
        checksum: checksumOf(text),
        ...parseSettings(file, normalised.slice(0, upMarker.index)),
        upSql,
        downSql: downSql?.trim() ? downSql : undefined,
        upLine: lineOf(normalised, upStart),
        downLine: downMarker ? lineOf(normalised, downMarker.index + downMarker[0].length) : undefined,
        hasDown: Boolean(downSql?.trim()),
    };
}

/**
 * Loads the migrations of `directory`. TypeScript migrations are imported statically in
 * `migrations/index.ts` (the registry); a `.ts` file missing from it is an error, not skipped.
 */
export function loadCatalog(directory = DEFAULT_MIGRATIONS_DIR, code: Readonly<Record<string, CodeMigration>> = codeMigrations): Catalog {
    const migrations: LocalMigration[] = [];
    for (const entry of readdirSync(directory).sort()) {
        const file = path.join(directory, entry);
        const extension = path.extname(entry);
        const name = path.basename(entry, extension);
        if (extension === ".ts" && name === "index") continue;
        if (extension !== ".sql" && extension !== ".ts") continue;
        if (!NAME.test(name)) throw new CatalogError(file, "name must look like 0001_lower_snake_case");
        const text = readFileSync(file, "utf8");
        if (extension === ".sql") {
            migrations.push(parseSqlMigration(name, file, text));
            continue;
        }
        const migration = code[name];
        if (!migration) throw new CatalogError(file, `is not registered in migrations/index.ts (add it to codeMigrations as "${name}")`);
        migrations.push({
            name,
            file,
            checksum: checksumOf(text),
            lockTimeout: checkTimeout(file, "lockTimeout", migration.lockTimeout ?? DEFAULT_LOCK_TIMEOUT),
            statementTimeout: checkTimeout(file, "statementTimeout", migration.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT),
            code: migration,
            hasDown: typeof migration.down === "function",
        });
    }
    const names = migrations.map((m) => m.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw new CatalogError(path.join(directory, duplicate), "exists both as .sql and .ts");
    if (migrations.length === 0) throw new CatalogError(directory, "no migrations found");
    return { directory, migrations };
}

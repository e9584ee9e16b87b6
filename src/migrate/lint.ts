/**
 * `migrate lint`: the statements of SQL migrations that destroy data or lock a table for a while,
 * read with PostgreSQL's own parser (sql-statements.ts), each with its file and line. Only up
 * sections are linted: a down section exists to undo, so its DROPs are its purpose. A finding is
 * accepted on purpose with `-- tenantdb:lint-ignore <rule> <reason>` on the line above it.
 */
import { readFileSync } from "node:fs";
import type { Node } from "libpg-query";
import { CatalogError, sqlSections } from "./catalog";
import { SqlSyntaxError, sqlStatements, SqlStatement } from "./sql-statements";
import { transactionControlStatement } from "./catalog";

export const LINT_RULES = {
    drop: "drops data or an object the application may still use",
    "alter-column-type": "rewrites the table under an ACCESS EXCLUSIVE lock (reads and writes wait) and can break the application",
    "add-column-not-null": "fails on a table with rows (NOT NULL without a DEFAULT)",
    "set-not-null": "scans the whole table under an ACCESS EXCLUSIVE lock (reads and writes wait)",
    "create-index-locks": "blocks writes to the table for the whole index build",
    "transaction-control": "ends or splits the transaction the runner wraps each migration in",
    "syntax-error": "PostgreSQL's parser refuses the SQL",
} as const;

export type LintRule = keyof typeof LINT_RULES;

export interface LintFinding {
    readonly file: string;
    readonly line: number;
    readonly rule: LintRule;
    /** The statement's first words, e.g. "ALTER TABLE core.users ALTER COLUMN". */
    readonly statement: string;
    /** What the statement does and what to do instead. */
    readonly message: string;
}

export interface LintIgnored extends LintFinding {
    /** The reason written in the lint-ignore comment. */
    readonly reason: string;
}

export interface LintReport {
    readonly files: readonly string[];
    readonly findings: readonly LintFinding[];
    readonly ignored: readonly LintIgnored[];
    /** Files that are not SQL (TypeScript migrations): code, not linted. */
    readonly skipped: readonly string[];
}

const IGNORE = /^\s*--\s*tenantdb:lint-ignore\s+([a-z-]+)(?:\s+(.*\S))?\s*$/;

const FIX: Record<LintRule, string> = {
    drop: "Fix: release a version of the application that no longer uses it first, and take a backup; or accept it with -- tenantdb:lint-ignore drop <reason>",
    "alter-column-type":
        "Fix: add a new column, backfill it, switch the application over, then drop the old one; or accept it with -- tenantdb:lint-ignore alter-column-type <reason>",
    "add-column-not-null":
        "Fix: add the column with a DEFAULT (PostgreSQL 11+ adds it without a rewrite), or add it nullable, backfill, then SET NOT NULL",
    "set-not-null":
        "Fix: ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL (which uses the valid check and does not scan)",
    "create-index-locks":
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction and tenantdb runs every migration in one (there are no non-transactional migrations). Fix: schedule this migration in a maintenance window, or accept it with -- tenantdb:lint-ignore create-index-locks <reason> for a small table",
    "transaction-control": "Fix: remove the statement; the migration commits or rolls back as a whole (the runner refuses to load it)",
    "syntax-error": "Fix: correct the SQL on that line",
};

type Relation = { schemaname?: string; relname?: string };

const relationName = (relation: Relation | undefined) =>
    relation ? `${relation.schemaname ? `${relation.schemaname}.` : ""}${relation.relname ?? "?"}` : "?";

/** True when `relation` is one of the tables the same section created (unqualified names match any schema). */
function createdHere(created: readonly Relation[], relation: Relation | undefined): boolean {
    return created.some(
        (table) =>
            table.relname === relation?.relname && (!table.schemaname || !relation?.schemaname || table.schemaname === relation.schemaname),
    );
}

const headOf = (text: string) => text.replace(/\s+/g, " ").split(" ").slice(0, 6).join(" ");

interface RawFinding {
    readonly line: number;
    readonly rule: LintRule;
    readonly statement: string;
    readonly what: string;
}

function statementFindings(statement: SqlStatement, created: Relation[]): RawFinding[] {
    const node = statement.node as unknown as Record<string, Record<string, unknown>>;
    const at = (rule: LintRule, what: string): RawFinding => ({ line: statement.line, rule, statement: headOf(statement.text), what });
    const body = node[statement.kind];
    switch (statement.kind) {
        case "CreateStmt":
            created.push(body.relation as Relation);
            return [];
        case "DropStmt": {
            const type = String(body.removeType ?? "OBJECT")
                .replace(/^OBJECT_/, "")
                .toLowerCase()
                .replace(/_/g, " ");
            return [at("drop", `DROP ${type.toUpperCase()} ${LINT_RULES.drop}`)];
        }
        case "TruncateStmt":
            return [at("drop", `TRUNCATE deletes every row`)];
        case "TransactionStmt":
            return [at("transaction-control", `"${headOf(statement.text)}" ${LINT_RULES["transaction-control"]}`)];
        case "IndexStmt": {
            if (body.concurrent || createdHere(created, body.relation as Relation)) return [];
            return [
                at("create-index-locks", `CREATE INDEX on ${relationName(body.relation as Relation)} ${LINT_RULES["create-index-locks"]}`),
            ];
        }
        case "AlterTableStmt": {
            const relation = body.relation as Relation;
            const table = relationName(relation);
            const fresh = createdHere(created, relation);
            const findings: RawFinding[] = [];
            for (const command of (body.cmds ?? []) as Node[]) {
                const cmd = (command as { AlterTableCmd?: Record<string, unknown> }).AlterTableCmd;
                if (!cmd) continue;
                const column = cmd.name ? `${table}.${String(cmd.name)}` : table;
                switch (cmd.subtype) {
                    case "AT_DropColumn":
                        findings.push(at("drop", `DROP COLUMN ${column} ${LINT_RULES.drop}`));
                        break;
                    case "AT_DropConstraint":
                        if (!fresh)
                            findings.push(at("drop", `DROP CONSTRAINT ${String(cmd.name)} on ${table} removes a rule the data relies on`));
                        break;
                    case "AT_AlterColumnType":
                        if (!fresh)
                            findings.push(at("alter-column-type", `ALTER COLUMN ${column} TYPE ${LINT_RULES["alter-column-type"]}`));
                        break;
                    case "AT_SetNotNull":
                        if (!fresh) findings.push(at("set-not-null", `SET NOT NULL on ${column} ${LINT_RULES["set-not-null"]}`));
                        break;
                    case "AT_AddColumn": {
                        const def = (cmd.def as { ColumnDef?: { colname?: string; constraints?: Node[] } } | undefined)?.ColumnDef;
                        const types = (def?.constraints ?? []).map((c) => (c as { Constraint?: { contype?: string } }).Constraint?.contype);
                        const notNull = types.includes("CONSTR_NOTNULL") || types.includes("CONSTR_PRIMARY");
                        if (!fresh && notNull && !types.includes("CONSTR_DEFAULT") && !types.includes("CONSTR_GENERATED"))
                            findings.push(
                                at(
                                    "add-column-not-null",
                                    `ADD COLUMN ${table}.${def?.colname ?? "?"} NOT NULL ${LINT_RULES["add-column-not-null"]}`,
                                ),
                            );
                        break;
                    }
                }
            }
            return findings;
        }
        default:
            return [];
    }
}

/** The findings of one SQL section, starting at `firstLine` of its file. */
function sectionFindings(sql: string, firstLine: number): RawFinding[] {
    try {
        const created: Relation[] = [];
        return sqlStatements(sql, { firstLine }).flatMap((statement) => statementFindings(statement, created));
    } catch (error) {
        if (!(error instanceof SqlSyntaxError)) throw error;
        const findings: RawFinding[] = [
            { line: error.line, rule: "syntax-error", statement: "", what: `${error.parserMessage} (PostgreSQL's parser)` },
        ];
        const control = transactionControlStatement(sql, firstLine);
        if (control)
            findings.push({
                line: control.line,
                rule: "transaction-control",
                statement: control.words,
                what: `"${control.words}" ${LINT_RULES["transaction-control"]}`,
            });
        return findings;
    }
}

/** Lints one migration file's text (its up section). `file` is how findings name it. */
export function lintSql(file: string, text: string): { findings: LintFinding[]; ignored: LintIgnored[] } {
    let sections;
    try {
        sections = sqlSections(file, text);
    } catch (error) {
        if (!(error instanceof CatalogError)) throw error;
        return {
            findings: [
                {
                    file,
                    line: 1,
                    rule: "syntax-error",
                    statement: "",
                    message: `${error.message}. Fix: start the file from tenantdb migrate new`,
                },
            ],
            ignored: [],
        };
    }
    const lines = text.replace(/\r\n/g, "\n").split("\n");
    const findings: LintFinding[] = [];
    const ignored: LintIgnored[] = [];
    for (const raw of sectionFindings(sections.upSql, sections.upLine)) {
        const finding: LintFinding = {
            file,
            line: raw.line,
            rule: raw.rule,
            statement: raw.statement,
            message: `${raw.what}. ${FIX[raw.rule]}`,
        };
        // The comment sits on the line above the statement (blank lines between are allowed).
        let above = raw.line - 2;
        while (above >= 0 && lines[above].trim() === "") above--;
        const ignore = above >= 0 ? IGNORE.exec(lines[above]) : null;
        // Transaction control and syntax errors cannot be accepted: the runner refuses them anyway.
        const acceptable = raw.rule !== "transaction-control" && raw.rule !== "syntax-error";
        if (ignore && ignore[1] === raw.rule && ignore[2] && acceptable) ignored.push({ ...finding, reason: ignore[2] });
        else findings.push(finding);
    }
    return { findings, ignored };
}

/** Lints migration files; `.ts` files are code, listed as skipped. */
export function lintFiles(files: readonly string[]): LintReport {
    const findings: LintFinding[] = [];
    const ignored: LintIgnored[] = [];
    const skipped: string[] = [];
    for (const file of files) {
        if (!file.endsWith(".sql")) {
            skipped.push(file);
            continue;
        }
        let text: string;
        try {
            text = readFileSync(file, "utf8");
        } catch (error) {
            throw new Error(`cannot read migration file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
                cause: error,
            });
        }
        const result = lintSql(file, text);
        findings.push(...result.findings);
        ignored.push(...result.ignored);
    }
    return { files: [...files], findings, ignored, skipped };
}

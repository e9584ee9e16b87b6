import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadCatalog, transactionControlStatement } from "../../src/migrate/catalog";
import { lexedStatements, SqlSyntaxError, sqlStatements } from "../../src/migrate/sql-statements";

const summary = (sql: string, firstLine?: number) => sqlStatements(sql, { firstLine }).map((s) => [s.kind, s.text, s.line]);

describe("sqlStatements: top-level statements as PostgreSQL's parser reads them", () => {
    it("gives each statement's parse tree kind, text and line; bodies stay inside their statement", () => {
        const sql = "SELECT 1;\n-- a comment\nCREATE TABLE t (a int)  ;\n\nDO $$ BEGIN PERFORM 1; END $$;\n/* c */ DROP TABLE t";
        assert.deepEqual(summary(sql), [
            ["SelectStmt", "SELECT 1", 1],
            ["CreateStmt", "CREATE TABLE t (a int)", 3],
            ["DoStmt", "DO $$ BEGIN PERFORM 1; END $$", 5],
            ["DropStmt", "DROP TABLE t", 6],
        ]);
    });

    it("counts lines from firstLine, and offsets in characters although the parser counts bytes", () => {
        assert.deepEqual(summary("\nSELECT 'déjà vu €';\nCOMMIT;", 10), [
            ["SelectStmt", "SELECT 'déjà vu €'", 11],
            ["TransactionStmt", "COMMIT", 12],
        ]);
    });

    it("keeps the parse tree, for checks that look inside a statement", () => {
        const [index] = sqlStatements("CREATE INDEX CONCURRENTLY i ON t (a);");
        assert.equal(index.kind, "IndexStmt");
        assert.equal("IndexStmt" in index.node && index.node.IndexStmt.concurrent, true);
    });

    it("finds every form of transaction control as a TransactionStmt", () => {
        const sql =
            "BEGIN; START TRANSACTION ISOLATION LEVEL SERIALIZABLE; COMMIT WORK; END; ROLLBACK; ABORT; SAVEPOINT s; RELEASE s; " +
            "ROLLBACK TO s; PREPARE TRANSACTION 'g'; COMMIT PREPARED 'g'; ROLLBACK PREPARED 'g'; COMMIT AND CHAIN";
        assert.deepEqual(
            sqlStatements(sql).map((s) => ("TransactionStmt" in s.node ? s.node.TransactionStmt.kind : s.kind)),
            [
                "TRANS_STMT_BEGIN",
                "TRANS_STMT_START",
                "TRANS_STMT_COMMIT",
                "TRANS_STMT_COMMIT",
                "TRANS_STMT_ROLLBACK",
                "TRANS_STMT_ROLLBACK",
                "TRANS_STMT_SAVEPOINT",
                "TRANS_STMT_RELEASE",
                "TRANS_STMT_ROLLBACK_TO",
                "TRANS_STMT_PREPARE",
                "TRANS_STMT_COMMIT_PREPARED",
                "TRANS_STMT_ROLLBACK_PREPARED",
                "TRANS_STMT_COMMIT",
            ],
        );
    });

    it("gives nothing for empty, blank or comment-only text", () => {
        assert.deepEqual(sqlStatements(""), []);
        assert.deepEqual(sqlStatements("  \n\t"), []);
        assert.deepEqual(sqlStatements("-- only\n/* comments */"), []);
    });

    it("refuses a syntax error with the source, the line and the parser's message", () => {
        assert.throws(
            () =>
                sqlStatements("\nCREATE TABLE t (a int);\nCREAT INDEX i ON t (a);\n", {
                    source: "migration file 0005_x.sql",
                    firstLine: 7,
                }),
            (error: unknown) => {
                assert.ok(error instanceof SqlSyntaxError);
                assert.equal(error.line, 9);
                assert.equal(error.parserMessage, 'syntax error at or near "CREAT"');
                assert.equal(
                    error.message,
                    `migration file 0005_x.sql: line 9: syntax error at or near "CREAT" (PostgreSQL's parser). Fix: correct the SQL on that line`,
                );
                return true;
            },
        );
        assert.throws(() => sqlStatements("SELECT 1;\nSELECT (\n"), {
            message: `SQL: line 3: syntax error at end of input (PostgreSQL's parser). Fix: correct the SQL on that line`,
        });
    });

    it("refuses a NUL, which would hide the rest of the text from the parser", () => {
        assert.throws(() => sqlStatements("SELECT 1;\n\0 COMMIT;"), {
            message:
                "SQL: line 2: a NUL character, which PostgreSQL refuses in a query (PostgreSQL's parser). Fix: correct the SQL on that line",
        });
    });
});

describe("lexedStatements: what the lexer alone splits, for text the grammar refuses", () => {
    it("splits at ; tokens, without comments, keeping quotes and bodies whole", () => {
        assert.deepEqual(lexedStatements("CREATE TABLE t (system_user int);\n/* c */ commit -- x\n work; SELECT $$;$$", { firstLine: 5 }), [
            { tokens: ["CREATE", "TABLE", "t", "(", "system_user", "int", ")"], line: 5 },
            { tokens: ["commit", "work"], line: 6 },
            { tokens: ["SELECT", "$$;$$"], line: 7 },
        ]);
    });

    it("reads text with control characters (the binding's JSON does not escape them)", () => {
        assert.deepEqual(lexedStatements("SELECT '\u0001\u001f'; COMMIT"), [
            { tokens: ["SELECT", "'\u0001\u001f'"], line: 1 },
            { tokens: ["COMMIT"], line: 1 },
        ]);
    });

    it("gives undefined when the lexer refuses the text too", () => {
        assert.equal(lexedStatements("SELECT 'unterminated; COMMIT;"), undefined);
        assert.equal(lexedStatements("SELECT 1; /* unterminated COMMIT;"), undefined);
        assert.equal(lexedStatements("SELECT 1;\0 COMMIT;"), undefined);
    });
});

describe("transactionControlStatement: bypasses of the former hand-written lexer are refused", () => {
    const found: Array<[string, string, { line: number; words: string }]> = [
        ["a $$ in a string", "SELECT '$$'; COMMIT;", { line: 1, words: "COMMIT" }],
        ["a $$ in a string, paired with a later one", "SELECT '$$';\nCOMMIT;\nSELECT '$$';", { line: 2, words: "COMMIT" }],
        ["a quote in a dollar body", "SELECT $$ ' $$; COMMIT;", { line: 1, words: "COMMIT" }],
        ["a doubled quote", "SELECT 'it''s'; COMMIT WORK;", { line: 1, words: "COMMIT WORK" }],
        ["an E'' string with an escaped quote", "SELECT E'\\'';\nCOMMIT;\nSELECT 'x';", { line: 2, words: "COMMIT" }],
        ["$$ ending identifiers", "SELECT 1 AS a$$;\nCOMMIT;\nSELECT 2 AS b$$;", { line: 2, words: "COMMIT" }],
        ["nested dollar tags", "SELECT $a$ $b$ $a$;\nCOMMIT;\nSELECT $b$ x $b$;", { line: 2, words: "COMMIT" }],
        ["a comment that does not hide it", "/* a */ COMMIT; -- b", { line: 1, words: "COMMIT" }],
        ["lower case", "SELECT 1;\ncommit;", { line: 2, words: "commit" }],
        ["END", "SELECT 1;\nEND;", { line: 2, words: "END" }],
        ["ABORT", "abort", { line: 1, words: "abort" }],
        ["a savepoint", "SAVEPOINT before_change;", { line: 1, words: "SAVEPOINT before_change" }],
        ["START TRANSACTION", "START TRANSACTION READ WRITE;", { line: 1, words: "START TRANSACTION READ" }],
        ["PREPARE TRANSACTION", "PREPARE TRANSACTION 'g';", { line: 1, words: "PREPARE TRANSACTION 'g'" }],
        ["a statement after a body", "DO $a$ BEGIN EXECUTE $b$ COMMIT $b$; END $a$;\nROLLBACK;", { line: 2, words: "ROLLBACK" }],
    ];
    for (const [what, sql, expected] of found) {
        it(`finds ${what}: ${JSON.stringify(sql)}`, () => {
            assert.deepEqual(transactionControlStatement(sql), expected);
        });
    }

    const allowed: Array<[string, string]> = [
        ["comments hiding it", "/* COMMIT; */ SELECT 1; -- COMMIT;\n"],
        ["a nested comment hiding it", "/* outer /* inner */ COMMIT; */ SELECT 1;"],
        ["strings", "SELECT 'COMMIT;', E'\\'; COMMIT; --', $$ COMMIT; $$;"],
        ["a DO block", "DO $$ BEGIN PERFORM 1; END $$;"],
        [
            "a plpgsql function body with BEGIN, COMMIT and END",
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $f$\nBEGIN\n  COMMIT;\nEND;\n$f$;\nSELECT f();",
        ],
        [
            "a plpgsql procedure body with BEGIN, COMMIT and END",
            "CREATE PROCEDURE p() LANGUAGE plpgsql AS $f$\nBEGIN\n  COMMIT;\nEND\n$f$;",
        ],
        ["a SQL-standard body (BEGIN ATOMIC ... END)", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;"],
        ["a prepared statement named like a keyword", "PREPARE commit_q AS SELECT 1;"],
    ];
    for (const [what, sql] of allowed) {
        it(`allows ${what}: ${JSON.stringify(sql)}`, () => {
            assert.equal(transactionControlStatement(sql), undefined);
        });
    }

    it("finds transaction control in text this parser's grammar refuses but an older server runs", () => {
        // system_user became a reserved word in PostgreSQL 16: a 15 server creates this table, then commits.
        const control = transactionControlStatement("CREATE TABLE t (system_user int);\nCOMMIT;", 4);
        assert.deepEqual(
            { line: control?.line, words: control?.words, unparsed: control?.unparsed?.message },
            {
                line: 5,
                words: "COMMIT",
                unparsed: `SQL: line 4: syntax error at or near "system_user" (PostgreSQL's parser). Fix: correct the SQL on that line`,
            },
        );
    });

    it("leaves a syntax error without transaction control to the server, and throws when not even the lexer reads the text", () => {
        assert.equal(transactionControlStatement("SELECT 1;\nCREAT INDEX i ON t (a);"), undefined);
        assert.throws(() => transactionControlStatement("SELECT 1;\nSELECT 'x; COMMIT;", 3), {
            name: "SqlSyntaxError",
            message: `SQL: line 4: unterminated quoted string at or near "'x; COMMIT;" (PostgreSQL's parser). Fix: correct the SQL on that line`,
        });
    });
});

describe("loadCatalog: transaction control and syntax errors name the file and line", () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-sql-"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const load = (content: string) => {
        writeFileSync(path.join(dir, "0001_x.sql"), content);
        return () => loadCatalog(dir, {});
    };

    it("refuses a COMMIT hidden from the former lexer, with the file line", () => {
        assert.throws(load("-- header\n-- migrate:up\nCREATE TABLE t (a int);\nSELECT '$$'; COMMIT; SELECT '$$';\n"), {
            name: "CatalogError",
            message:
                `migration file ${path.join(dir, "0001_x.sql")}: line 4: must not contain "COMMIT": the runner wraps each migration ` +
                "in a transaction with its bookkeeping row. Fix: remove the statement; the migration commits or rolls back as a whole",
        });
    });

    it("checks the down section too, with its file line", () => {
        assert.throws(load("-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\nROLLBACK;\n"), {
            message:
                `migration file ${path.join(dir, "0001_x.sql")}: line 5: must not contain "ROLLBACK": the runner wraps each migration ` +
                "in a transaction with its bookkeeping row. Fix: remove the statement; the migration commits or rolls back as a whole",
        });
    });

    it("names the parser's refusal when the COMMIT was found by the lexer alone", () => {
        assert.throws(load("-- migrate:up\nCREATE TABLE t (system_user int);\nCOMMIT;\n"), {
            message:
                `migration file ${path.join(dir, "0001_x.sql")}: line 3: must not contain "COMMIT": the runner wraps each migration in a ` +
                `transaction with its bookkeeping row (PostgreSQL's parser also refuses line 2: syntax error at or near "system_user"). ` +
                "Fix: remove the statement; the migration commits or rolls back as a whole",
        });
    });

    it("refuses text not even the lexer reads, with the line and the parser's message", () => {
        assert.throws(load("-- migrate:up\nSELECT 1;\nSELECT $body$ never closed;\nCOMMIT;\n"), {
            name: "CatalogError",
            message:
                `migration file ${path.join(dir, "0001_x.sql")}: line 3: unterminated dollar-quoted string at or near ` +
                `"$body$ never closed;\nCOMMIT;\n" (PostgreSQL's parser). Fix: correct the SQL on that line`,
        });
    });

    it("loads a section with a syntax error but no transaction control: the server reports it at apply", () => {
        const [migration] = load("-- migrate:up\nCREAT TABLE t (a int);\n")().migrations;
        assert.equal(migration.upSql, "\nCREAT TABLE t (a int);\n");
    });
});

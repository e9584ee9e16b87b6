/**
 * Credentials out of reach of reporting. The component's default privileges give the readonly
 * role SELECT on every table of the business schemas, core.users included, so a reporting
 * login could read every user's password hash. Here readonly keeps SELECT on every other column
 * of the table and loses it on the credential columns.
 *
 * Column privileges are per column: a later migration that adds a column to one of these tables
 * must grant readonly SELECT on it itself (until then reporting cannot read it, which fails closed).
 * A restore keeps the narrowing (src/backup/privileges.ts); a restore's verification compares
 * column privileges with the backup's.
 */
import type { ClientBase } from "pg";
import { tenantNames } from "../src/naming";
import { quoteIdentifier as ident } from "../src/shared/sql";
import type { CodeMigration } from "../src/migrate/types";

/** Per table, the columns that hold credentials: the app reads them, reporting never does. */
export const CREDENTIAL_COLUMNS: Readonly<Record<string, readonly string[]>> = {
    "core.users": ["password_hash"],
};

/** `core.users` as a quoted SQL name. */
function quotedTable(table: string): string {
    const [schema, name] = table.split(".");
    return `${ident(schema)}.${ident(name)}`;
}

/** The table's columns other than its credential columns, in table order. */
async function readableColumns(client: ClientBase, table: string, withheld: readonly string[]): Promise<string> {
    const { rows } = await client.query<{ attname: string }>(
        `SELECT attname FROM pg_attribute
          WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname <> ALL($2::text[])
          ORDER BY attnum`,
        [table, [...withheld]],
    );
    return rows.map((row) => ident(row.attname)).join(", ");
}

export const credentialsWithheld: CodeMigration = {
    lockTimeout: "5s",
    statementTimeout: "1min",
    async up({ client, tenantId }) {
        const readonly = ident(tenantNames(tenantId).readonlyRole);
        for (const [table, withheld] of Object.entries(CREDENTIAL_COLUMNS)) {
            const qualified = quotedTable(table);
            const columns = await readableColumns(client, table, withheld);
            // Revoking the table privilege also revokes column privileges, so it comes first.
            await client.query(`REVOKE SELECT ON ${qualified} FROM ${readonly}`);
            await client.query(`GRANT SELECT (${columns}) ON ${qualified} TO ${readonly}`);
        }
    },
    async down({ client, tenantId }) {
        const readonly = ident(tenantNames(tenantId).readonlyRole);
        for (const table of Object.keys(CREDENTIAL_COLUMNS)) {
            const qualified = quotedTable(table);
            await client.query(`REVOKE SELECT ON ${qualified} FROM ${readonly}`);
            await client.query(`GRANT SELECT ON ${qualified} TO ${readonly}`);
        }
    },
};

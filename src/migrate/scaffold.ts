/**
 * `migrate new <name>`: a SQL migration file with the next number and the sections the loader
 * reads (catalog.ts), so a new migration starts in the one format the runner accepts.
 */
import { readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { DEFAULT_LOCK_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT, MIGRATION_NAME } from "./catalog";

/** What follows the number: lower_snake_case, starting with a letter. */
const DESCRIPTIVE_NAME = /^[a-z][a-z0-9_]{0,59}$/;

/** Refuses a name that would not load, saying what a good one looks like. */
export function checkMigrationName(name: string): void {
    if (!DESCRIPTIVE_NAME.test(name) || name.endsWith("_") || name.includes("__"))
        throw new Error(
            `migration name ${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name)} is not lower_snake_case: ` +
                "use a lower-case letter, then up to 59 lower-case letters, digits and single underscores (e.g. add_invoice_notes); the number is added for you",
        );
}

/** The next free number in `directory`: one more than the highest NNNN_ of its .sql and .ts migrations. */
export function nextMigrationNumber(directory: string): string {
    const numbers = readdirSync(directory)
        .filter((entry) => /\.(sql|ts)$/.test(entry) && MIGRATION_NAME.test(path.basename(entry, path.extname(entry))))
        .map((entry) => Number(entry.slice(0, 4)));
    const next = Math.max(0, ...numbers) + 1;
    if (next > 9999) throw new Error(`${directory} already has migration 9999: the four-digit numbers are used up`);
    return String(next).padStart(4, "0");
}

export function migrationTemplate(name: string): string {
    return [
        `-- ${name}: what this migration changes, and why.`,
        "-- Write the up section. Write a down section only if the change can be undone: without one,",
        "-- migrate down refuses to go past this migration.",
        `-- tenantdb: lock_timeout=${DEFAULT_LOCK_TIMEOUT} statement_timeout=${DEFAULT_STATEMENT_TIMEOUT}`,
        "",
        "-- migrate:up",
        "",
        "",
        "-- migrate:down",
        "",
    ].join("\n");
}

/** Writes `<directory>/<NNNN>_<name>.sql` (never over an existing file) and returns its path. */
export function scaffoldMigration(directory: string, name: string): string {
    checkMigrationName(name);
    const file = path.join(directory, `${nextMigrationNumber(directory)}_${name}.sql`);
    writeFileSync(file, migrationTemplate(name), { flag: "wx" });
    return file;
}

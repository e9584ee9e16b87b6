/** The database a restore builds: created like the one backed up, closed to everyone but the admin while it is built. */
import { Client } from "pg";
import { describe } from "../errors";
import { quoteIdentifier as ident, quoteLiteral as literal } from "../../shared/sql";
import { ServerSession } from "./context";

export async function createScratchDatabase(session: ServerSession): Promise<void> {
    const { admin, scratch, manifest, options, server, fail, created } = session;
    const recorded = manifest.databaseSnapshot;
    const locale =
        recorded.localeProvider === "icu"
            ? `LOCALE_PROVIDER icu ICU_LOCALE ${literal(recorded.iculocale ?? "und")}`
            : `LOCALE_PROVIDER ${recorded.localeProvider}`;
    try {
        await admin.query(
            `CREATE DATABASE ${ident(scratch)} TEMPLATE template0 ENCODING ${literal(recorded.encoding)} ` +
                `LC_COLLATE ${literal(recorded.collate)} LC_CTYPE ${literal(recorded.ctype)} ${locale}` +
                (options.tablespace ? ` TABLESPACE ${ident(options.tablespace)}` : ""),
        );
    } catch (error) {
        throw fail(
            "database",
            "create database",
            `cannot create ${scratch}: ${describe(error)}`,
            `the admin ${server.user} needs CREATEDB (and the locale ${recorded.collate} must exist on the server).`,
            error,
        );
    }
    created.scratchDatabase = scratch;
    await admin.query(`REVOKE ALL ON DATABASE ${ident(scratch)} FROM PUBLIC`);
}

export async function dropDatabase(admin: Client, database: string): Promise<void> {
    await admin.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`);
}

/**
 * Phase 7b, restores only: what the switch is about to move aside. Per table, how many rows
 * the live database holds that the restored one does not (as a multiset: a row present twice
 * live and once restored counts once), that is, the writes acknowledged after the backup was
 * taken. The tenant is quiesced, so the live database no longer changes under the count.
 *
 * Rows are compared by the md5 of their text form, streamed from both databases in sorted
 * order (byte order, as JavaScript compares strings) through cursors and merged, so memory stays flat whatever the table sizes.
 */
import { Client } from "pg";
import { listTables } from "../catalog";
import { connect } from "../connection";

const BATCH = 10_000;

/** `"schema"."table"` -> rows only in the live database; tables with none are left out. */
export type MovedAside = Record<string, number>;

export async function countMovedAside(session: {
    server: Parameters<typeof connect>[0];
    live: string;
    restored: string;
}): Promise<MovedAside> {
    const live = await connect(session.server, session.live);
    try {
        const restored = await connect(session.server, session.restored);
        try {
            for (const client of [live, restored]) {
                await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
                await client.query("SET LOCAL row_security = off");
            }
            const restoredTables = new Set(await listTables(restored));
            const moved: MovedAside = {};
            for (const table of await listTables(live)) {
                const n = restoredTables.has(table) ? await rowsOnlyIn(live, restored, table) : await countAll(live, table);
                if (n > 0) moved[table] = n;
            }
            return moved;
        } finally {
            await restored.end().catch(() => undefined);
        }
    } finally {
        await live.end().catch(() => undefined);
    }
}

async function countAll(client: Client, table: string): Promise<number> {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(rows[0].n);
}

/** Rows of `table` in `left` that `right` lacks: a merge of two sorted digest streams. */
async function rowsOnlyIn(left: Client, right: Client, table: string): Promise<number> {
    // `table` comes from listTables (quote_ident); the cursor names are fixed.
    const open = (client: Client) =>
        client.query(`DECLARE tenantdb_rows NO SCROLL CURSOR FOR SELECT md5(t::text) COLLATE "C" AS h FROM ${table} t ORDER BY 1`);
    await Promise.all([open(left), open(right)]);
    const a = batches(left);
    const b = batches(right);
    let onlyLeft = 0;
    let x = await a.next();
    let y = await b.next();
    while (x !== undefined) {
        if (y === undefined || x < y) {
            onlyLeft++;
            x = await a.next();
        } else if (x > y) {
            y = await b.next();
        } else {
            x = await a.next();
            y = await b.next();
        }
    }
    await Promise.all([left.query("CLOSE tenantdb_rows"), right.query("CLOSE tenantdb_rows")]);
    return onlyLeft;
}

/** Reads the open cursor in batches; next() gives one digest at a time, undefined at the end. */
function batches(client: Client): { next(): Promise<string | undefined> } {
    let buffer: string[] = [];
    let index = 0;
    let done = false;
    return {
        async next() {
            if (index === buffer.length) {
                if (done) return undefined;
                const { rows } = await client.query<{ h: string }>(`FETCH ${BATCH} FROM tenantdb_rows`);
                buffer = rows.map((row) => row.h);
                index = 0;
                done = rows.length < BATCH;
                if (buffer.length === 0) return undefined;
            }
            return buffer[index++];
        },
    };
}

/** What the previous copy holds that the restored database does not, as the restore reports it. */
export function movedAsideSentence(moved: MovedAside): string {
    const entries = Object.entries(moved);
    if (entries.length === 0) return "The previous database holds no row the restored one lacks.";
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    return (
        `The previous database holds ${total} row(s) the restored one does not (written after the backup): ` +
        `${entries.map(([table, n]) => `${table} ${n}`).join(", ")}.`
    );
}

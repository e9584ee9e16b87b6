import * as assert from "node:assert/strict";
import { Client } from "pg";
import { testServer } from "./support/server";

describe("test server", () => {
    it("is PostgreSQL 15 with scram auth", async () => {
        const client = new Client({ ...testServer(), database: "postgres" });
        await client.connect();
        const { rows } = await client.query("SELECT current_setting('server_version_num')::int / 10000 AS major");
        await client.end();
        assert.equal(rows[0].major, 15);
    });
});

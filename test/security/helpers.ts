/** Connections as tenant roles, and the exact refusals the security tests expect. */
import * as assert from "node:assert/strict";
import { Client, Notification } from "pg";
import { testServer } from "../support/server";

/** A connected client as `user` on `database` of the test server. */
export async function connectAs(user: string, password: string, database: string): Promise<Client> {
    const { host, port } = testServer();
    const client = new Client({ host, port, user, password, database });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
    }
    return client;
}

/** Runs `body` on a connection as `user`, always closing it. */
export async function asRole<T>(user: string, password: string, database: string, body: (client: Client) => Promise<T>): Promise<T> {
    const client = await connectAs(user, password, database);
    try {
        return await body(client);
    } finally {
        await client.end();
    }
}

/** Asserts that `action` fails with exactly this SQLSTATE and message. */
export async function assertRefused(action: Promise<unknown>, code: string, message: string): Promise<void> {
    await assert.rejects(action, (error: { code?: string; message?: string }) => {
        assert.equal(error.code, code, `SQLSTATE of "${error.message}"`);
        assert.equal(error.message, message);
        return true;
    });
}

/** The next notification `client` receives within `ms`, or undefined when none arrives in time. */
export function nextNotification(client: Client, ms: number): Promise<Notification | undefined> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => {
            client.off("notification", received);
            resolve(undefined);
        }, ms);
        const received = (notification: Notification) => {
            clearTimeout(timer);
            client.off("notification", received);
            resolve(notification);
        };
        client.on("notification", received);
    });
}

import * as assert from "node:assert/strict";
import fc from "fast-check";
import { PlacementTenant, SharedServer, chooseServer, dedicatedServerName, resolvePlacement } from "../../src/placement";

/** The edits a config sees over its life. */
type Edit =
    | { kind: "add"; id: string; plan: "standard" | "enterprise" }
    | { kind: "remove"; pick: number }
    | { kind: "reorder"; seed: number }
    | { kind: "addServer"; capacity: number };

const editArbitrary: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({
        kind: fc.constant("add" as const),
        id: fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/),
        plan: fc.constantFrom("standard" as const, "enterprise" as const),
    }),
    fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("reorder" as const), seed: fc.integer() }),
    fc.record({ kind: fc.constant("addServer" as const), capacity: fc.integer({ min: 1, max: 4 }) }),
);

function shuffle<T>(items: T[], seed: number): T[] {
    const out = [...items];
    let state = seed >>> 0;
    for (let i = out.length - 1; i > 0; i--) {
        state = (state * 1664525 + 1013904223) >>> 0;
        const j = state % (i + 1);
        [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
}

describe("placement", () => {
    it("never moves an existing tenant, whatever edits follow (property)", () => {
        fc.assert(
            fc.property(fc.array(editArbitrary, { maxLength: 40 }), (edits) => {
                let servers: SharedServer[] = [{ name: "shared-1", capacity: 2 }];
                let tenants: PlacementTenant[] = [];
                // Where each tenant was first placed: it must stay there for as long as it exists.
                const home = new Map<string, string>();
                for (const edit of edits) {
                    if (edit.kind === "add") {
                        if (tenants.some((t) => t.id === edit.id)) continue;
                        // A new standard tenant gets its server recorded, as the CLI and portal do.
                        const server = edit.plan === "standard" ? chooseServer(tenants, servers) : undefined;
                        if (edit.plan === "standard" && server === undefined) continue; // full: refused, nothing placed
                        tenants = [...tenants, { id: edit.id, plan: edit.plan, server }];
                    } else if (edit.kind === "remove" && tenants.length > 0) {
                        const removed = tenants[edit.pick % tenants.length];
                        tenants = tenants.filter((t) => t !== removed);
                        home.delete(removed.id);
                    } else if (edit.kind === "reorder") {
                        tenants = shuffle(tenants, edit.seed);
                    } else if (edit.kind === "addServer") {
                        servers = [...servers, { name: `shared-${servers.length + 1}`, capacity: edit.capacity }];
                    }
                    const { placement, problems } = resolvePlacement(tenants, servers);
                    assert.deepEqual(problems, []);
                    for (const tenant of tenants) {
                        const now = placement.get(tenant.id)!;
                        if (!home.has(tenant.id)) home.set(tenant.id, now);
                        assert.equal(now, home.get(tenant.id), `tenant ${tenant.id} moved`);
                    }
                }
            }),
            { numRuns: 300 },
        );
    });

    it("never places a standard tenant whose server is not written, and names the server to write", () => {
        const servers = [
            { name: "shared-1", capacity: 3 },
            { name: "shared-2", capacity: 3 },
        ];
        const tenants: PlacementTenant[] = [
            { id: "a", plan: "standard", server: "shared-1" },
            { id: "b", plan: "standard" },
        ];
        const { placement, problems } = resolvePlacement(tenants, servers);
        assert.deepEqual([...placement], [["a", "shared-1"]]);
        assert.deepEqual(problems, [
            {
                index: 1,
                message:
                    "not set. A tenant's server is recorded in config so that no later edit can move its database; add server: shared-2 (the least-loaded shared server with room), or run npm run tenants -- add b",
            },
        ]);
    });

    it("chooses the least-loaded server by fill ratio, then by name, and none when all are full", () => {
        const servers = [
            { name: "b", capacity: 4 },
            { name: "a", capacity: 2 },
        ];
        assert.equal(chooseServer([], servers), "a");
        assert.equal(chooseServer([{ id: "x", plan: "standard", server: "a" }], servers), "b");
        const full = [
            { id: "x", plan: "standard" as const, server: "a" },
            { id: "y", plan: "standard" as const, server: "a" },
        ];
        assert.equal(chooseServer(full, [{ name: "a", capacity: 2 }]), undefined);
        assert.deepEqual(resolvePlacement([...full, { id: "z", plan: "standard" }], [{ name: "a", capacity: 2 }]).problems, [
            {
                index: 2,
                message:
                    "not set, and no shared server has room (declared: a); add a server to tenantdb:servers or raise a server's capacity",
            },
        ]);
    });

    it("puts an enterprise tenant on its dedicated server and refuses a shared one", () => {
        assert.equal(dedicatedServerName("big_co"), "ent-big-co");
        const { placement, problems } = resolvePlacement(
            [
                { id: "big_co", plan: "enterprise" },
                { id: "other", plan: "enterprise", server: "shared-1" },
            ],
            [{ name: "shared-1", capacity: 5 }],
        );
        assert.deepEqual([...placement], [["big_co", "ent-big-co"]]);
        assert.deepEqual(problems, [
            {
                index: 1,
                message:
                    "enterprise tenants get a dedicated server; remove server: shared-1 or set it to ent-other. Moving a tenant between servers is an explicit migration (back up, provision, restore), never a config edit.",
            },
        ]);
    });
});

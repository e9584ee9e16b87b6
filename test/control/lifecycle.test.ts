import * as assert from "node:assert/strict";
import { ResolvedTenant } from "../../src/config/model";
import { InvalidRequestError } from "../../src/control/errors";
import { checkRetirement, nextState } from "../../src/control/lifecycle";
import { loadStackModel } from "../../src/config/load";

function tenant(state: string, history: object[] = [], backupRetentionDays = 30): ResolvedTenant {
    const model = loadStackModel({
        origin: "test",
        raw: {
            servers: { s: { kind: "external", host: "h" } },
            tenants: [{ id: "acme", server: "s", state, history, backupRetentionDays }],
        },
        serverPasswordNames: ["s"],
    });
    return model.tenants[0];
}
const SUSPENDED = [{ state: "suspended", at: "2026-11-01T00:00:00.000Z", by: "portal:alice", backup: "s3://b/k" }];

describe("tenant lifecycle rules", () => {
    it("moves each state where its operations lead", () => {
        assert.equal(nextState(tenant("active"), "suspend"), "suspended");
        assert.equal(nextState(tenant("suspended", SUSPENDED), "resume"), "active");
        assert.equal(nextState(tenant("suspended", SUSPENDED), "retire"), "retired");
        assert.equal(nextState(tenant("retired", [...SUSPENDED, { ...SUSPENDED[0], state: "retired" }]), "retire"), "erased");
    });

    it("refuses the rest, naming the state the operation needs", () => {
        const refusals: [string, object[], "suspend" | "resume" | "retire", string][] = [
            ["active", [], "resume", "tenant acme is active; resume applies to a tenant that is suspended"],
            ["active", [], "retire", "tenant acme is active; retire applies to a tenant that is suspended or retired"],
            ["suspended", SUSPENDED, "suspend", "tenant acme is suspended; suspend applies to a tenant that is active"],
        ];
        for (const [state, history, operation, message] of refusals) {
            assert.throws(
                () => nextState(tenant(state, history), operation),
                (error: Error) => error instanceof InvalidRequestError && error.message === `state: ${message}`,
            );
        }
    });

    it("reads back a transition time that lost its quotes, as Pulumi's Go YAML renders it", () => {
        const suspended = tenant("suspended", [{ ...SUSPENDED[0], at: "2026-11-01 00:00:00.5 +0000 UTC" }]);
        assert.equal(suspended.history[0].at, "2026-11-01T00:00:00.5Z");
        assert.throws(
            () => tenant("suspended", [{ ...SUSPENDED[0], at: "yesterday" }]),
            /history\[0\]\.at: must be an ISO 8601 UTC time such as 2026-01-31T12:00:00Z/,
        );
    });

    it("lets a tenant retire only after its backup retention since the suspension, or with an override naming it", () => {
        const suspended = tenant("suspended", SUSPENDED, 30);
        assert.throws(() => checkRetirement(suspended, new Date("2026-11-30T23:59:59Z")), {
            message:
                'overrideRetention: tenant acme was suspended at 2026-11-01T00:00:00.000Z; its backups are kept 30 days, so it can retire from 2026-12-01T00:00:00.000Z. To erase it sooner (a GDPR erasure request), pass overrideRetention: "acme"',
        });
        assert.doesNotThrow(() => checkRetirement(suspended, new Date("2026-12-01T00:00:00Z")));
        assert.doesNotThrow(() => checkRetirement(suspended, new Date("2026-11-02T00:00:00Z"), "acme"));
        assert.throws(() => checkRetirement(suspended, new Date("2026-11-02T00:00:00Z"), "globex"), {
            message: 'overrideRetention: names "globex", not the tenant being retired (acme); pass its id to confirm',
        });
    });
});

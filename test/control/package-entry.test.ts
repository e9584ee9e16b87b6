import * as assert from "node:assert/strict";
import * as control from "../../src/control";

describe("the package entry point", () => {
    it("exports the control API under the package's own name, and the program under tenantdb/program", async () => {
        // Self-reference: resolved through package.json `exports`, as a portal importing tenantdb would.
        const library = await import("tenantdb");
        assert.equal(library.TenantdbClient, control.TenantdbClient);
        assert.deepEqual(Object.keys(library).sort(), [
            "AbortedError",
            "BusyError",
            "ConflictError",
            "ControlError",
            "EngineError",
            "FinalBackupError",
            "FleetClient",
            "InvalidRequestError",
            "LeaseLostError",
            "MigrationFailedError",
            "TenantdbClient",
            "cellsOf",
            "checkRoleDrift",
            "describeRoleCheck",
            "finalBackupFromInventory",
            "leasePath",
            "roleDriftExitCode",
            "withStackLease",
        ]);
        assert.equal(require.resolve("tenantdb/program"), require.resolve("../../index.ts"));
    });
});

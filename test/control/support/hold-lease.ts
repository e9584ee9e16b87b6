/**
 * A caller that takes a stack's lease and never lets go: the test kills it with SIGKILL, as a
 * crashed portal worker or an OOM-killed CI job would die. Prints "held" once it holds the lease.
 */
import { withStackLease } from "../../../src/control/lease";

const [workDir, stack, staleMs] = process.argv.slice(2);
void withStackLease(workDir, stack, { owner: "test:doomed", operation: "provision doomed", staleMs: Number(staleMs) }, async () => {
    process.stdout.write("held\n");
    await new Promise(() => undefined);
});

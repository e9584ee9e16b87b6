/**
 * A caller that takes a stack's lease and never lets go: the test kills it with SIGKILL, as a
 * crashed portal worker or an OOM-killed CI job would die. Prints "held" once it holds the lease.
 */
import { withStackLease } from "../../../src/control/lease";

const [workDir, stack, staleMs] = process.argv.slice(2);
void withStackLease(workDir, stack, { owner: "test:doomed", operation: "provision doomed", staleMs: Number(staleMs) }, async () => {
    process.stdout.write("held\n");
    // Alive until killed: the lease's own refresh timer does not keep a process running.
    setInterval(() => undefined, 1000);
    await new Promise(() => undefined);
});

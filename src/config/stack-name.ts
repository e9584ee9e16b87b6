/**
 * Stack names, checked once for every entry point that takes `--stack` (the cost preview, the
 * sandbox, the control API and the tenants CLI): a name becomes a file name, `Pulumi.<stack>.yaml`,
 * so `../../etc/x` would read outside the project folder and `a/b` a subfolder.
 */
import { ConfigError } from "./errors";

/** Pulumi's own limit on a stack name. */
export const MAX_STACK_NAME_LENGTH = 100;

/** Pulumi's rule: letters, digits, `-`, `_` and `.`, not starting with `.`. */
const STACK_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/** A stack name that is not one: names the value (cut short), the rule and an example. */
export class StackNameError extends ConfigError {
    constructor(readonly stack: string) {
        const shown = JSON.stringify(stack.length > MAX_STACK_NAME_LENGTH ? `${stack.slice(0, 40)}...` : stack);
        const message =
            `is not a valid stack name: use letters, digits, "-", "_" and "." only, not starting with "." and at most ` +
            `${MAX_STACK_NAME_LENGTH} characters (Pulumi's rule), e.g. --stack dev; the file read is Pulumi.<stack>.yaml in the project folder`;
        super([{ path: `stack ${shown}`, message }]);
        this.message = `stack ${shown} ${message}`;
        this.name = "StackNameError";
    }
}

/** Throws StackNameError unless `stack` is a valid Pulumi stack name. */
export function assertStackName(stack: string): void {
    if (typeof stack !== "string" || stack.length > MAX_STACK_NAME_LENGTH || !STACK_NAME.test(stack))
        throw new StackNameError(String(stack));
}

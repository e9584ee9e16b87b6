/**
 * A cost preview failure the user can fix. The message names the field or file at fault
 * and the fix; `cause` keeps the original error when there is one.
 */
export class CostError extends Error {
    constructor(message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "CostError";
    }
}

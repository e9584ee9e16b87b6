/**
 * Concurrent provision calls to one stack from one process (a portal's burst of sign-ups) are
 * served together: whoever takes the stack's lease takes every request queued by then, writes
 * them to the stack file in one edit, deploys them in one targeted update and migrates them in
 * one run. Ten requests at once cost one update instead of ten back to back; each still gets
 * its own result or its own error (a bad request fails alone, before anything is written).
 */
import { SeedInput } from "../migrate/types";
import { NewTenant } from "../config/sources/tenant-request";
import { AbortedError } from "./errors";

export interface ProvisionRequest {
    readonly tenant: NewTenant;
    readonly seed?: SeedInput;
    readonly signal?: AbortSignal;
}

export interface Pending<R> {
    readonly request: ProvisionRequest;
    resolve(result: R): void;
    reject(error: unknown): void;
}

/**
 * Serves one batch: gets the lease, then calls `take` for the requests to serve, and settles
 * each of them. If it throws, every request taken (or, before `take`, every one queued) fails with it.
 */
export type BatchWorker<R> = (take: () => Pending<R>[]) => Promise<void>;

export class ProvisionQueue<R> {
    private queued: Pending<R>[] = [];
    private draining = false;

    constructor(private readonly work: BatchWorker<R>) {}

    submit(request: ProvisionRequest): Promise<R> {
        if (request.signal?.aborted) return Promise.reject(new AbortedError(`provisioning ${request.tenant.id}`));
        return new Promise<R>((resolve, reject) => {
            const pending: Pending<R> = { request, resolve, reject };
            this.queued.push(pending);
            // Aborting only works while queued: once taken, the request shares an update with others.
            request.signal?.addEventListener(
                "abort",
                () => {
                    if (!this.queued.includes(pending)) return;
                    this.queued = this.queued.filter((p) => p !== pending);
                    reject(new AbortedError(`provisioning ${request.tenant.id}`));
                },
                { once: true },
            );
            void this.drain();
        });
    }

    private take(): Pending<R>[] {
        const batch = this.queued;
        this.queued = [];
        return batch;
    }

    private async drain(): Promise<void> {
        if (this.draining) return;
        this.draining = true;
        try {
            while (this.queued.length > 0) {
                let taken: Pending<R>[] | undefined;
                try {
                    await this.work(() => (taken = this.take()));
                } catch (error) {
                    // Settling twice is a no-op: requests the worker already settled keep their result.
                    for (const pending of taken ?? this.take()) pending.reject(error);
                }
            }
        } finally {
            this.draining = false;
        }
    }
}

/**
 * Edits of a stack file (`Pulumi.<stack>.yaml`), the source of truth for a stack's tenants
 * (README, "Tenant lifecycle and the control API"). Every edit is made under the stack's lease,
 * keeps comments and layout, validates the whole result, and is written atomically (a temporary
 * file renamed over the old one) only if nobody changed the file meanwhile: a hand edit or a
 * `git pull` racing the control API makes it stop with a ConflictError instead of overwriting.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Document, isMap, isScalar, isSeq, parseDocument, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { ConfigSource, loadStackModel, withEveryServerPassword } from "../config/load";
import { addTenant } from "../config/add-tenant";
import { NewTenant } from "../config/sources/tenant-request";
import { StackModel } from "../config/model";
import { Transition } from "../config/schema";
import { parseStackFile } from "../config/sources/stack-file";
import { ConflictError } from "./errors";

const TENANTS_KEY = ["config", "tenantdb:tenants"] as const;

export class StackFileEdit {
    readonly document: Document;
    private readonly digest: string;

    constructor(readonly file: string) {
        const text = readFileSync(file, "utf8");
        this.digest = digestOf(text);
        this.document = parseDocument(text);
        // Older Automation API writes stored the list as a JSON string: edit it as a YAML list.
        const tenants = this.document.getIn(TENANTS_KEY);
        if (typeof tenants === "string") this.document.setIn(TENANTS_KEY, this.document.createNode(JSON.parse(tenants)));
    }

    /** The tenant entries as plain data, in file order. */
    tenants(): Record<string, unknown>[] {
        const list = this.document.getIn(TENANTS_KEY);
        return isSeq(list) ? (list.toJSON() as Record<string, unknown>[]) : [];
    }

    appendTenant(entry: Record<string, unknown>): void {
        const list = this.document.getIn(TENANTS_KEY);
        if (list instanceof YAMLSeq) list.add(this.document.createNode(entry));
        else this.document.setIn(TENANTS_KEY, this.document.createNode([entry]));
    }

    /** Moves a tenant to a new state, appending the transition to its history. */
    recordTransition(tenantId: string, transition: Transition): void {
        const entry = this.tenantNode(tenantId);
        entry.set("state", transition.state);
        const history = entry.get("history");
        const record = this.document.createNode(Object.fromEntries(Object.entries(transition).filter(([, v]) => v !== undefined)));
        // Quoted: Pulumi reads stack files with Go's YAML, which turns a plain timestamp into a
        // time value and hands the program its Go rendering instead of the ISO string written.
        const at = record.get("at", true);
        if (isScalar(at)) at.type = Scalar.QUOTE_DOUBLE;
        if (history instanceof YAMLSeq) history.add(record);
        else entry.set("history", this.document.createNode([record]));
    }

    /** Records another server for a tenant (a move: TenantdbClient.move releases it from the state first). */
    setServer(tenantId: string, server: string): void {
        this.tenantNode(tenantId).set("server", server);
    }

    /**
     * The config the edited file describes. Server passwords are in the Pulumi secrets store
     * (or, for local backends, encrypted in this file): every declared server counts as having
     * one; `pulumi up` checks them.
     */
    source(): ConfigSource {
        return withEveryServerPassword(parseStackFile(this.document.toString(), this.file).source);
    }

    model(): StackModel {
        return loadStackModel(this.source());
    }

    /** Validates, then writes the file if it is unchanged since it was read. */
    commit(): StackModel {
        const model = this.model();
        if (digestOf(readFileSync(this.file, "utf8")) !== this.digest) {
            throw new ConflictError(
                `${this.file} changed while tenantdb was editing it (a hand edit or a pull?); nothing was written. Retry.`,
            );
        }
        const temporary = `${this.file}.${randomBytes(6).toString("hex")}.tmp`;
        try {
            writeFileSync(temporary, this.document.toString());
            renameSync(temporary, this.file);
        } finally {
            rmSync(temporary, { force: true });
        }
        return model;
    }

    private tenantNode(tenantId: string): YAMLMap {
        const list = this.document.getIn(TENANTS_KEY);
        const node = isSeq(list) ? list.items.find((item) => isMap(item) && item.get("id") === tenantId) : undefined;
        if (!isMap(node)) throw new ConflictError(`tenant ${tenantId} is not in ${this.file}`);
        return node;
    }
}

function digestOf(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/**
 * Appends `tenant` to the stack file, recording its server (a config-file edit: `tenants add`).
 * Throws ConfigError, writing nothing, when the result would not validate. Callers that may
 * race other edits hold the stack's lease (TenantdbClient.add does).
 */
export function addTenantToStackFile(file: string, tenant: NewTenant): { server: string; model: StackModel } {
    const edit = new StackFileEdit(file);
    const { entry, server } = addTenant(edit.source(), tenant);
    edit.appendTenant(entry);
    return { server, model: edit.commit() };
}

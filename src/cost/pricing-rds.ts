/** Pricing of one RDS instance: instance hours, storage, IOPS, backups, Performance Insights, managed secret. See pricing.ts for the model. */
import { tenantSizeGb } from "./assumptions";
import { booleanInput, numberInput, stringInput } from "./graph";
import { PlannedResource, PricingContext, ServerInfo, TenantInfo } from "./types";

/** RDS API default for `backupRetentionPeriod` when the input is absent (days). */
export const DEFAULT_RDS_BACKUP_RETENTION_DAYS = 1;

/** Prices `resource`, the RDS instance of `info`; its automated backups hold the data of the tenants placed on it. */
export function priceRdsInstance(
    resource: PlannedResource,
    info: ServerInfo,
    tenants: ReadonlyMap<string, TenantInfo>,
    context: PricingContext,
): void {
    const { prices, assumptions, lineItems, unpriced, warnings } = context;
    const base = { resourceType: resource.type, resourceName: resource.name, owner: context.ownerOf(resource) };
    const hours = prices.hoursPerMonth.value;
    const multiAz = booleanInput(resource, "multiAz") ?? false;
    const copies = multiAz ? 2 : 1;
    const deployment = multiAz ? "Multi-AZ" : "Single-AZ";
    const push = (item: string, quantity: number, unit: string, unitPriceUsd: number, worstQuantity = quantity, note?: string) =>
        lineItems.push({
            ...base,
            item,
            quantity,
            unit,
            unitPriceUsd,
            monthlyUsd: quantity * unitPriceUsd,
            worstCaseMonthlyUsd: worstQuantity * unitPriceUsd,
            ...(note ? { note } : {}),
        });

    const instanceClass = stringInput(resource, "instanceClass");
    const hourly = instanceClass ? prices.rds.instanceHourly[instanceClass] : undefined;
    if (!instanceClass)
        unpriced.push({
            type: resource.type,
            name: `${resource.name} (instance hours)`,
            reason: "instanceClass is not set or unknown at preview time",
        });
    else if (!hourly) {
        unpriced.push({
            type: resource.type,
            name: `${resource.name} (instance hours)`,
            reason: `instanceClass "${instanceClass}" has no price in the prices file; add rds.instanceHourly["${instanceClass}"] or run \`npm run cost -- refresh-prices\``,
        });
    } else push(`instance hours (${instanceClass}, ${deployment})`, hours * copies, "instance-hours", hourly.value);

    // Storage, IOPS.
    const storageType = stringInput(resource, "storageType") ?? "gp3";
    const allocated = numberInput(resource, "allocatedStorage");
    const ceiling = numberInput(resource, "maxAllocatedStorage");
    const storagePrice = prices.rds.storageGbMonth[storageType];
    if (allocated === undefined) {
        unpriced.push({
            type: resource.type,
            name: `${resource.name} (storage)`,
            reason: "allocatedStorage is not set or unknown at preview time",
        });
    } else if (!storagePrice) {
        unpriced.push({
            type: resource.type,
            name: `${resource.name} (storage)`,
            reason: `storageType "${storageType}" has no price; add rds.storageGbMonth["${storageType}"] to the prices file`,
        });
    } else {
        const worstGb = ceiling !== undefined && ceiling > allocated ? ceiling : allocated;
        push(
            `storage (${storageType}, ${deployment})`,
            allocated * copies,
            "GB-months",
            storagePrice.value,
            worstGb * copies,
            worstGb > allocated ? `worst case at the autoscaling ceiling of ${worstGb} GB` : undefined,
        );
    }
    const iops = numberInput(resource, "iops");
    if (storageType === "io1" || storageType === "io2") {
        const iopsPrice = prices.rds.iopsMonth[storageType];
        if (iops === undefined || !iopsPrice) {
            unpriced.push({
                type: resource.type,
                name: `${resource.name} (provisioned IOPS)`,
                reason:
                    iops === undefined
                        ? `storageType ${storageType} needs iops, which is not set`
                        : `no rds.iopsMonth["${storageType}"] in the prices file`,
            });
        } else push(`provisioned IOPS (${storageType}, ${deployment})`, iops * copies, "IOPS-months", iopsPrice.value);
    } else if (storageType === "gp3" && iops !== undefined && allocated !== undefined) {
        const baseline = prices.rds.gp3BaselineIops;
        const included = allocated >= baseline.thresholdGb ? baseline.atOrAboveThresholdIops : baseline.belowThresholdIops;
        const extra = Math.max(0, iops - included);
        const iopsPrice = prices.rds.iopsMonth.gp3;
        if (extra > 0 && iopsPrice) push(`IOPS above gp3 baseline (${deployment})`, extra * copies, "IOPS-months", iopsPrice.value);
        else if (extra > 0)
            unpriced.push({
                type: resource.type,
                name: `${resource.name} (gp3 IOPS)`,
                reason: `no rds.iopsMonth["gp3"] in the prices file`,
            });
    }

    // Automated backups beyond the free allowance (100% of provisioned storage; not doubled for Multi-AZ).
    const { server, dedicatedTo } = info;
    const onServer = [...tenants.values()].filter((t) => t.server === server || (dedicatedTo !== undefined && t.tenant === dedicatedTo));
    const retentionInput = numberInput(resource, "backupRetentionPeriod");
    const retention = retentionInput ?? DEFAULT_RDS_BACKUP_RETENTION_DAYS;
    if (retentionInput === undefined)
        warnings.push(
            `RDS instance ${resource.name}: backupRetentionPeriod is not set; assuming the RDS default of ${DEFAULT_RDS_BACKUP_RETENTION_DAYS} day`,
        );
    const dataGb = onServer.reduce((sum, t) => sum + tenantSizeGb(assumptions, t.tenant), 0);
    if (allocated !== undefined && dataGb > allocated) {
        warnings.push(
            `server ${server}: its tenants' data (${round2(dataGb)} GB) exceeds allocatedStorage (${allocated} GB); storage autoscaling will grow it${ceiling ? ` toward ${ceiling} GB (the worst case column)` : ", but maxAllocatedStorage is not set"}`,
        );
    }
    if (retention > 0 && allocated !== undefined) {
        const backupGb = dataGb * (1 + assumptions.dailyChangeRate * retention);
        const billable = Math.max(0, backupGb - allocated);
        push(
            "backup storage beyond free allowance",
            billable,
            "GB-months",
            prices.rds.backupGbMonth.value,
            billable,
            `${round2(backupGb)} GB of backups (${onServer.length} tenants, ${retention} days, ${assumptions.dailyChangeRate * 100}%/day change) minus ${allocated} GB free`,
        );
    }

    // Performance Insights.
    const piEnabled = booleanInput(resource, "performanceInsightsEnabled") ?? false;
    const piRetention = numberInput(resource, "performanceInsightsRetentionPeriod") ?? 7;
    if (piEnabled && piRetention > 7) {
        const vcpus = instanceClass ? prices.rds.vcpus.classes[instanceClass] : undefined;
        if (vcpus === undefined) {
            unpriced.push({
                type: resource.type,
                name: `${resource.name} (Performance Insights)`,
                reason: `no vCPU count for instanceClass "${instanceClass ?? "(unknown)"}"; add it to rds.vcpus.classes in the prices file`,
            });
        } else {
            const months = piRetention >= 731 ? 24 : Math.max(1, Math.round(piRetention / 31));
            const pi = prices.rds.performanceInsights;
            const perVcpu = pi.firstMonthPerVcpu.value + (months - 1) * pi.additionalMonthPerVcpu.value;
            push(
                `Performance Insights (${months} months retention)`,
                vcpus * copies,
                "vCPU-months",
                perVcpu,
                vcpus * copies,
                `${vcpus} vCPU${multiAz ? " x 2 (Multi-AZ)" : ""}; first month + ${months - 1} additional`,
            );
        }
    }

    if (booleanInput(resource, "manageMasterUserPassword") === true) {
        push("master password secret (Secrets Manager, managed by RDS)", 1, "secret-months", prices.secretsManager.secretMonth.value);
    }
}

function round2(value: number): number {
    return Math.round(value * 100) / 100;
}

import type { FirmwareImageRecord, FirmwareUpdateRecord } from '../storage/firmware-table.js';
import { allOf, andThen } from '../storage/maybe-promise.js';
import type { FirmwareStoreContract, MaybePromise } from '../storage/store-contract.js';
import { FirmwareError } from './firmware-error.js';

/** What planning needs of a device: its HELLO model (or provisioning type before the first HELLO) and firmware. */
export interface RolloutDevice {
  id: string;
  model: string;
  type: string;
  firmware: string;
}

/** `hearth firmware update <device|--model m> --version v`, and POST /api/firmware/updates. */
export type RolloutTarget = { device: string } | { model: string };

export interface RolloutPlan {
  create: { deviceId: string; image: FirmwareImageRecord; fromVersion: string }[];
  skipped: { device: string; reason: string }[];
}

/** The model an image must be for to update this device: its HELLO model, else its provisioning type. */
export function deviceModel(d: RolloutDevice): string {
  return d.model || d.type;
}

/**
 * Which devices get an update to `version`: one device, or every device of a model. A device already at
 * the version, or already updating to it, is skipped. Throws FirmwareError for an unknown device or model,
 * or a model without that version.
 */
export function planRollout(devices: readonly RolloutDevice[], target: RolloutTarget, version: string, table: FirmwareStoreContract): MaybePromise<RolloutPlan> {
  const chosen = 'device' in target ? devices.filter((d) => d.id === target.device) : devices.filter((d) => deviceModel(d) === target.model);
  if (chosen.length === 0) {
    throw new FirmwareError('HUB_ERR_UNKNOWN_DEVICE', 'device' in target ? `no device "${target.device}"` : `no device of model "${target.model}"`);
  }
  // Each device's image and open update, read at once (on PostgreSQL, in parallel), then decided in order.
  type Found = { image: FirmwareImageRecord | undefined; open: FirmwareUpdateRecord | undefined };
  const found = allOf(chosen.map((d) => andThen(table.imageByVersion(deviceModel(d), version), (image): MaybePromise<Found> => andThen(table.openUpdate(d.id), (open) => ({ image, open })))));
  return andThen(found, (lookups) => {
    const plan: RolloutPlan = { create: [], skipped: [] };
    chosen.forEach((d, i) => {
      const { image, open } = lookups[i]!;
      if (!image) throw new FirmwareError('HUB_ERR_UNKNOWN_FIRMWARE', `no firmware ${version} for model "${deviceModel(d)}" (add it with hearth firmware add)`);
      if (d.firmware === version) plan.skipped.push({ device: d.id, reason: `already runs ${version}` });
      else if (open && open.sha256 === image.sha256) plan.skipped.push({ device: d.id, reason: `already updating to ${version} (update ${open.id})` });
      else plan.create.push({ deviceId: d.id, image, fromVersion: d.firmware });
    });
    return plan;
  });
}

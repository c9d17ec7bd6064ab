import { isThenable } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';
import type { RolloutTarget } from './rollout-plan.js';
import type { FirmwareImageInfo, FirmwareUpdateStatus } from './update-status.js';

export interface RolloutResult {
  queued: FirmwareUpdateStatus[];
  skipped: { device: string; reason: string }[];
}

/**
 * What the HTTP API asks of firmware updates (through the facade): answers at once on SQLite, in Promises on
 * PostgreSQL, like the store under it.
 */
export interface FirmwareControl {
  /** Largest image addImage takes from the API (firmware.maxImageBytes). */
  readonly maxImageBytes: number;
  images(): MaybePromise<FirmwareImageInfo[]>;
  addImage(bytes: Uint8Array, model: string, version: string): MaybePromise<FirmwareImageInfo>;
  /** Queues updates to `version`; throws (or rejects with) FirmwareError: unknown device, model or version. */
  update(target: RolloutTarget, version: string): MaybePromise<RolloutResult>;
  /** The newest updates, of one device when given, newest first. */
  updates(limit: number, deviceId?: string): MaybePromise<FirmwareUpdateStatus[]>;
  /** The version each model's newest image has (Home Assistant's latest_version). */
  latestVersion(model: string): MaybePromise<string | undefined>;
}

/** FirmwareControl answering at once: what the MQTT bridge reads, on SQLite only (hub/mqtt/update-mirror.ts). */
export interface SyncFirmwareControl {
  readonly maxImageBytes: number;
  images(): FirmwareImageInfo[];
  addImage(bytes: Uint8Array, model: string, version: string): FirmwareImageInfo;
  update(target: RolloutTarget, version: string): RolloutResult;
  updates(limit: number, deviceId?: string): FirmwareUpdateStatus[];
  latestVersion(model: string): string | undefined;
}

function atOnce<T>(answer: MaybePromise<T>): T {
  if (isThenable(answer)) throw new Error('firmware control answered with a Promise where the SQLite store answers at once');
  return answer;
}

/** `control` over a store that answers at once (SQLite), typed so; each call throws if it ever returns a Promise. */
export function syncFirmwareControl(control: FirmwareControl): SyncFirmwareControl {
  return {
    maxImageBytes: control.maxImageBytes,
    images: () => atOnce(control.images()),
    addImage: (bytes, model, version) => atOnce(control.addImage(bytes, model, version)),
    update: (target, version) => atOnce(control.update(target, version)),
    updates: (limit, deviceId) => atOnce(control.updates(limit, deviceId)),
    latestVersion: (model) => atOnce(control.latestVersion(model)),
  };
}

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

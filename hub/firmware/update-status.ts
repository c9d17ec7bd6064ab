import type { ApiFirmwareImage, ApiFirmwareUpdate } from '../http/api-types.js';
import type { FirmwareImageRecord, FirmwareUpdateRecord } from '../storage/firmware-table.js';

/** One device's update as the API, MQTT and the dashboard show it (the API's contract decides the shape). */
export type FirmwareUpdateStatus = ApiFirmwareUpdate;
export type FirmwareImageInfo = ApiFirmwareImage;

/** The outward form of an update row: the one place that decides it. */
export function updateStatus(u: FirmwareUpdateRecord): FirmwareUpdateStatus {
  return {
    id: u.id, device: u.deviceId, version: u.version, fromVersion: u.fromVersion, state: u.state,
    percent: Math.floor((u.offset * 100) / u.size), offset: u.offset, size: u.size, resumes: u.resumes, reason: u.reason,
    createdAt: u.createdAt, updatedAt: u.updatedAt,
  };
}

export function imageInfo(i: FirmwareImageRecord): FirmwareImageInfo {
  return { sha256: i.sha256, model: i.model, version: i.version, size: i.size, addedAt: i.addedAt };
}

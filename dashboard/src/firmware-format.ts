// How the dashboard words firmware updates (firmware-protocol.md section 14; docs/operations.md "Firmware
// updates"): one place for the status line of a device and the summary of a model's rollout.
import type { ApiFirmwareImage, ApiFirmwareUpdate, ApiUpdateState } from '../../hub/http/api-types.js';

const OPEN: ReadonlySet<ApiUpdateState> = new Set(['queued', 'transferring', 'verifying']);

/** True while an update is not finished. */
export function updateOpen(u: ApiFirmwareUpdate | undefined): boolean {
  return u !== undefined && OPEN.has(u.state);
}

/** The status line of a device's newest update ('' without one). */
export function updateLabel(u: ApiFirmwareUpdate | undefined): string {
  if (!u) return '';
  switch (u.state) {
    case 'queued':
      return u.reason ? `Queued for ${u.version} (${u.reason})` : `Queued for ${u.version}`;
    case 'transferring':
      return `Transferring ${u.version}: ${u.percent} %${u.resumes > 0 ? `, resumed ${u.resumes}×` : ''}`;
    case 'verifying':
      return `Verifying ${u.version}, then rebooting`;
    case 'done':
      return `Updated to ${u.version}`;
    case 'failed':
      return `Update to ${u.version} failed: ${u.reason ?? 'no reason given'}`;
    case 'rolled_back':
      return `Rolled back from ${u.version}${u.reason ? ` (${u.reason})` : ''}`;
  }
}

/** The newest image of a model, or undefined. */
export function latestImage(images: readonly ApiFirmwareImage[], model: string): ApiFirmwareImage | undefined {
  let latest: ApiFirmwareImage | undefined;
  for (const i of images) if (i.model === model && (!latest || i.addedAt >= latest.addedAt)) latest = i;
  return latest;
}

export interface RolloutSummary {
  version: string;
  total: number;
  counts: Record<ApiUpdateState, number>;
  /** Mean confirmed percent over the devices of the rollout. */
  percent: number;
}

/** The newest update of each device among `updates` (newest first, as the API answers) for `devices`, counted by state for `version`. */
export function rolloutSummary(updates: readonly ApiFirmwareUpdate[], devices: ReadonlySet<string>, version: string): RolloutSummary {
  const counts: Record<ApiUpdateState, number> = { queued: 0, transferring: 0, verifying: 0, done: 0, failed: 0, rolled_back: 0 };
  const seen = new Set<string>();
  let percent = 0;
  for (const u of updates) {
    if (!devices.has(u.device) || seen.has(u.device)) continue;
    seen.add(u.device);
    if (u.version !== version) continue;
    counts[u.state]++;
    percent += u.percent;
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return { version, total, counts, percent: total === 0 ? 0 : Math.round(percent / total) };
}

import { describe, expect, it } from '@jest/globals';
import type { ApiFirmwareUpdate } from '../../hub/http/api-types.js';
import { latestImage, rolloutSummary, updateLabel, updateOpen } from './firmware-format.js';

const u = (over: Partial<ApiFirmwareUpdate>): ApiFirmwareUpdate => ({
  id: 1, device: 'd1', version: '2.0.0', fromVersion: '1.0.0', state: 'queued', percent: 0, offset: 0, size: 100, resumes: 0, reason: null, createdAt: 0, updatedAt: 0, ...over,
});

describe('firmware wording [FP-14]', () => {
  it('one status line per state, with progress, resumes and reasons', () => {
    expect(updateLabel(undefined)).toBe('');
    expect(updateLabel(u({ reason: 'deferred: battery_low' }))).toBe('Queued for 2.0.0 (deferred: battery_low)');
    expect(updateLabel(u({ state: 'transferring', percent: 37, resumes: 2 }))).toBe('Transferring 2.0.0: 37 %, resumed 2×');
    expect(updateLabel(u({ state: 'verifying' }))).toBe('Verifying 2.0.0, then rebooting');
    expect(updateLabel(u({ state: 'done' }))).toBe('Updated to 2.0.0');
    expect(updateLabel(u({ state: 'failed', reason: 'refused: downgrade' }))).toBe('Update to 2.0.0 failed: refused: downgrade');
    expect(updateLabel(u({ state: 'rolled_back', reason: 'came back with 1.0.0' }))).toBe('Rolled back from 2.0.0 (came back with 1.0.0)');
    expect([updateOpen(u({})), updateOpen(u({ state: 'verifying' })), updateOpen(u({ state: 'done' })), updateOpen(undefined)]).toEqual([true, true, false, false]);
  });

  it("a model's rollout counts each device's newest update of that version, and the newest image wins", () => {
    const updates = [
      u({ id: 5, device: 'd1', state: 'transferring', percent: 50 }),
      u({ id: 4, device: 'd2', state: 'done', percent: 100 }),
      u({ id: 3, device: 'd1', state: 'failed', reason: 'superseded' }),
      u({ id: 2, device: 'd3', version: '1.5.0', state: 'done', percent: 100 }),
      u({ id: 1, device: 'other', state: 'done', percent: 100 }),
    ];
    const s = rolloutSummary(updates, new Set(['d1', 'd2', 'd3']), '2.0.0');
    expect(s).toEqual({ version: '2.0.0', total: 2, counts: { queued: 0, transferring: 1, verifying: 0, done: 1, failed: 0, rolled_back: 0 }, percent: 75 });
    const images = [{ sha256: 'a', model: 'M', version: '1', size: 1, addedAt: 1 }, { sha256: 'b', model: 'M', version: '2', size: 1, addedAt: 2 }, { sha256: 'c', model: 'N', version: '9', size: 1, addedAt: 3 }];
    expect(latestImage(images, 'M')?.version).toBe('2');
    expect(latestImage(images, 'X')).toBeUndefined();
  });
});

// The API contract declares its own unions so that the dashboard never imports hub internals; these checks
// fail to compile (npm run typecheck) when one drifts from the hub's, and the runtime lists must agree too.
import { describe, expect, it } from '@jest/globals';
import { COMMAND_LOG_STATUSES, type HistoryStep } from '../storage/types.js';
import { ROLES, type Role } from '../auth/user-store.js';
import type { CommandOutcomeStatus } from '../events.js';
import type { ApiCommandStatus, ApiHistoryStep, ApiRole } from './api-types.js';

/** true exactly when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('the HTTP API contract', () => {
  it('ApiRole is the user store Role', () => {
    const same: Equal<ApiRole, Role> = true;
    const roles: readonly ApiRole[] = ROLES;
    expect(same).toBe(true);
    expect([...roles].sort()).toEqual(['admin', 'integration', 'viewer']);
  });

  it('ApiCommandStatus is the hub command outcome status, and the log stores the same set', () => {
    const same: Equal<ApiCommandStatus, CommandOutcomeStatus> = true;
    const statuses: readonly ApiCommandStatus[] = COMMAND_LOG_STATUSES;
    expect(same).toBe(true);
    expect([...statuses].sort()).toEqual(['busy', 'failed', 'invalid', 'offline', 'ok', 'timeout', 'unsupported']);
  });

  it('ApiHistoryStep is the store HistoryStep', () => {
    const same: Equal<ApiHistoryStep, HistoryStep> = true;
    const steps: Record<ApiHistoryStep, true> = { raw: true, minute: true, hour: true };
    expect(same).toBe(true);
    expect(Object.keys(steps)).toEqual(['raw', 'minute', 'hour']);
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import { deviceIdProblem } from '../devices/device-id.js';
import { parseDeviceChange, type HubFacade } from '../facade.js';
import { retryBusy } from '../storage/busy-retry.js';
import type { HistoryStep, StoredEvent } from '../storage/types.js';
import type { Principal } from '../auth/authorizer.js';
import { isThenable } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';
import type { Role } from '../auth/user-store.js';
import { pointToJson, valueToJson } from '../../protocol/value-form.js';
import type * as Api from './api-types.js';
import { handleObservability, type ObservabilitySources } from './observability-api.js';
import { firmwareApi } from './firmware-api.js';
import { HttpError, readJsonBody, sendJson, sendStorageFault } from './respond.js';
import { handleUsers, type UsersAuth } from './users-api.js';

export interface ApiDeps {
  facade: HubFacade;
  now: () => number;
  /** The bearer of this request (role and user name), or null when unauthenticated (hub/auth). */
  authorize: (req: IncomingMessage) => MaybePromise<Principal | null>;
  /** /api/users (hub/http/users-api.ts); absent: 404. */
  users?: UsersAuth;
  /** /api/hub/samples and /api/hub/logs (hub/http/observability-api.ts); absent: 404. */
  observability?: ObservabilitySources;
}

const MAX_POINTS = 10_000;
const DEFAULT_POINTS = 2_000;
const HOUR = 3600_000;

/** Handles /api/* requests; answers JSON, errors as { error: CODE, message } with the right status. */
export function createApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      await route(deps, req, res);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.code, message: err.message } satisfies Api.ApiErrorResponse);
      if (sendStorageFault(res, err)) return;
      sendJson(res, 500, { error: 'HUB_ERR_INTERNAL', message: (err as Error).message } satisfies Api.ApiErrorResponse);
    }
  };
}

async function route(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://hub.invalid');
  const parts = pathSegments(url.pathname); // ['api', ...]
  const method = req.method ?? 'GET';
  if (parts[1] === 'health' && parts.length === 2) {
    const { ok, storage, devicesOnline, fault, undrainedReadings } = deps.facade.health();
    const body: Api.HealthResponse = { status: ok ? 'ok' : 'degraded', storage, devicesOnline, ...(fault ? { fault } : {}), ...(undrainedReadings !== undefined ? { undrainedReadings } : {}) };
    return sendJson(res, ok ? 200 : 503, body);
  }
  const asked = deps.authorize(req);
  const principal = isThenable(asked) ? await asked : asked; // SQLite and the admin token: at once
  const role = principal?.role;
  if (!principal || !role) throw new HttpError(401, 'HUB_ERR_UNAUTHORIZED', 'send Authorization: Bearer <token> (an admin API token or a dashboard session)');
  const need = (wanted: Role[]) => {
    if (!wanted.includes(role)) throw new HttpError(403, 'HUB_ERR_FORBIDDEN', `the ${role} role may not ${method} ${url.pathname}`);
  };

  if (parts[1] === 'hub' && parts.length === 2 && method === 'GET') return sendJson(res, 200, deps.facade.hubInfo() satisfies Api.HubInfoResponse);
  if (parts[1] === 'hub' && parts.length > 2 && deps.observability) return handleObservability(deps.observability, principal, req, res, parts.slice(1), url.searchParams);
  if (parts[1] === 'users' && deps.users) return handleUsers(deps.users, principal, req, res, parts.slice(1));
  if (parts[1] === 'firmware' || (parts[1] === 'devices' && parts[3] === 'firmware' && parts.length === 4)) return firmwareApi(deps.facade, req, res, url, parts, need);
  if (parts[1] !== 'devices') throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${url.pathname}`);

  if (parts.length === 2) {
    if (method === 'GET') return sendJson(res, 200, { devices: deps.facade.devices().map((d) => ({ ...d, state: deps.facade.currentState(d.id) })) } satisfies Api.DevicesResponse);
    if (method === 'POST') {
      need(['admin']);
      const body = await readJsonBody(req);
      const id = body.id;
      if (typeof id !== 'string') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'id is required: 1-64 characters of A-Z a-z 0-9 _ . -');
      const problem = deviceIdProblem(id);
      if (problem) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', problem);
      const name = optionalString(body, 'name') ?? id;
      const type = optionalString(body, 'type') ?? '';
      try {
        return sendJson(res, 201, (await retryBusy(() => deps.facade.provision(id, name, type))) satisfies Api.ProvisionResponse);
      } catch (err) {
        if ((err as { code?: string }).code === 'HUB_ERR_DEVICE_EXISTS') throw new HttpError(409, 'HUB_ERR_DEVICE_EXISTS', `device "${id}" exists`);
        throw err;
      }
    }
    throw methodNotAllowed(method, url.pathname);
  }

  const id = parts[2]!;
  const device = deps.facade.device(id);
  if (!device) throw new HttpError(404, 'HUB_ERR_UNKNOWN_DEVICE', `no device "${id}"`);
  if (parts.length === 3) {
    if (method === 'GET') return sendJson(res, 200, { device: { ...device, state: deps.facade.currentState(id) } } satisfies Api.DeviceResponse);
    if (method === 'PATCH') {
      need(['admin']);
      const parsed = parseDeviceChange(await readJsonBody(req));
      if (!parsed.ok) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', parsed.problem);
      const updated = await retryBusy(() => deps.facade.rename(id, parsed.change));
      if (!updated) throw new HttpError(404, 'HUB_ERR_UNKNOWN_DEVICE', `no device "${id}"`);
      return sendJson(res, 200, { device: { ...updated, state: deps.facade.currentState(id) } } satisfies Api.DevicePatchResponse);
    }
    if (method === 'DELETE') {
      need(['admin']);
      if (url.searchParams.get('remove') === 'true') {
        await retryBusy(() => deps.facade.remove(id));
        return sendJson(res, 200, { removed: id } satisfies Api.DeviceRemoveResponse);
      }
      await retryBusy(() => deps.facade.revoke(id));
      return sendJson(res, 200, { revoked: id } satisfies Api.RevokeResponse);
    }
    throw methodNotAllowed(method, url.pathname);
  }
  if (parts.length !== 4) throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${url.pathname}`);
  const q = url.searchParams;
  switch (parts[3]) {
    case 'history': {
      if (method !== 'GET') throw methodNotAllowed(method, url.pathname);
      const metric = q.get('metric');
      if (!metric) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'metric is required (a capability name of the device)');
      const cap = device.capabilities.find((c) => c.name === metric);
      if (!cap) throw new HttpError(404, 'HUB_ERR_UNKNOWN_METRIC', `device "${id}" has no metric "${metric}"`);
      const to = timeParam(q, 'to', deps.now());
      const from = timeParam(q, 'from', to - HOUR);
      if (from > to) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'from must not be after to');
      const limit = intParam(q, 'limit', DEFAULT_POINTS, 1, MAX_POINTS);
      const step = stepParam(q, to - from, cap.valueType === 'string' || cap.valueType === 'enum');
      const points = (await deps.facade.history({ deviceId: id, metric, from, to, step, limit })).map((p) => pointToJson(cap, p));
      return sendJson(res, 200, { device: id, metric, unit: cap.unit, from, to, step, limit, truncated: points.length >= limit, points } satisfies Api.HistoryResponse);
    }
    case 'events': {
      if (method !== 'GET') throw methodNotAllowed(method, url.pathname);
      const to = timeParam(q, 'to', deps.now());
      const from = timeParam(q, 'from', to - 24 * HOUR);
      const limit = intParam(q, 'limit', 200, 1, MAX_POINTS);
      const events = (await deps.facade.events(id, from, to, limit)).map((e: StoredEvent) => ({
        name: e.name,
        ts: e.ts,
        value: valueToJson(device.capabilities.find((c) => c.name === e.name), e.value),
      }));
      return sendJson(res, 200, { device: id, events } satisfies Api.EventsResponse);
    }
    case 'commands': {
      if (method === 'GET') {
        const limit = intParam(q, 'limit', 50, 1, 1000);
        return sendJson(res, 200, { device: id, commands: await deps.facade.commandLog(id, limit) } satisfies Api.CommandsResponse);
      }
      if (method !== 'POST') throw methodNotAllowed(method, url.pathname);
      need(['admin', 'integration']);
      const body = await readJsonBody(req);
      if (typeof body.command !== 'string') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'command is required (a writable capability name)');
      if (!('value' in body)) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'value is required');
      // A dashboard session's command is recorded under its user; the admin API token's as api:admin.
      const source = principal.username === 'admin-token' ? `api:${role}` : `user:${principal.username}`;
      const outcome = await deps.facade.sendCommand(id, body.command, body.value, source);
      const status = { ok: 200, invalid: 400, unsupported: 400, offline: 409, timeout: 504, failed: 502, busy: 503 }[outcome.status];
      return sendJson(res, status, outcome satisfies Api.CommandResponse);
    }
  }
  throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${url.pathname}`);
}

/** The decoded segments of a path; a malformed %-escape is a 400, not a crash. */
function pathSegments(path: string): string[] {
  try {
    return path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `malformed %-escape in ${path}`);
  }
}

function methodNotAllowed(method: string, path: string): HttpError {
  return new HttpError(405, 'HUB_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 64) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `${key} must be a string of at most 64 characters`);
  return v;
}

function timeParam(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(n)) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `${name} must be milliseconds since the epoch or an ISO date, got "${raw}"`);
  return n;
}

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** `auto` picks raw up to 2 hours, minutes up to 2 days, hours beyond; text series only have raw points. */
function stepParam(q: URLSearchParams, range: number, textual: boolean): HistoryStep {
  const raw = q.get('step') ?? 'auto';
  if (!['auto', 'raw', 'minute', 'hour'].includes(raw)) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `step must be one of auto, raw, minute, hour, got "${raw}"`);
  }
  if (textual) {
    if (raw === 'minute' || raw === 'hour') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'step must be raw for string and enum metrics');
    return 'raw';
  }
  if (raw !== 'auto') return raw as HistoryStep;
  if (range <= 2 * HOUR) return 'raw';
  return range <= 48 * HOUR ? 'minute' : 'hour';
}

// The hub page's endpoints of the HTTP API (docs/api.md "The hub page"): the last hour of status samples with
// the retention settings (any role), and the hub's recent warn and error log lines (admin only).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/authorizer.js';
import type { LogRing } from '../observability/log-ring.js';
import type { StatusSamples } from '../observability/status-samples.js';
import type * as Api from './api-types.js';
import { HttpError, sendJson } from './respond.js';

/** The hub's own observations the endpoints serve. */
export interface ObservabilitySources {
  samples: Pick<StatusSamples, 'samples' | 'intervalMs'>;
  logs: Pick<LogRing, 'lines' | 'total'>;
  retention: { rawDays: number; rollupDays: number };
}

/** Answers GET /api/hub/samples and GET /api/hub/logs; `parts` are the path's segments after 'api'. */
export function handleObservability(src: ObservabilitySources, principal: Principal, req: IncomingMessage, res: ServerResponse, parts: string[], q: URLSearchParams): void {
  const method = req.method ?? 'GET';
  const path = `/api/${parts.join('/')}`;
  if (parts.length !== 2 || (parts[1] !== 'samples' && parts[1] !== 'logs')) throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${path}`);
  if (method !== 'GET') throw new HttpError(405, 'HUB_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
  if (parts[1] === 'samples') {
    const since = number(q, 'since', -Infinity);
    return sendJson(res, 200, { intervalMs: src.samples.intervalMs, samples: src.samples.samples(since), retention: src.retention } satisfies Api.HubSamplesResponse);
  }
  // Log lines name addresses, device ids and internal errors: for admins only.
  if (principal.role !== 'admin') throw new HttpError(403, 'HUB_ERR_FORBIDDEN', `the ${principal.role} role may not GET ${path}`);
  const limit = number(q, 'limit', 200);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'limit must be a whole number from 1 to 1000');
  sendJson(res, 200, { lines: src.logs.lines(limit), total: src.logs.total } satisfies Api.HubLogsResponse);
}

function number(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `${name} must be a number, got "${raw}"`);
  return n;
}

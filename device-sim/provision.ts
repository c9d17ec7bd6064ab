// `--provision`: creates the fleet's devices through the hub's HTTP API (POST /api/devices), the same
// call `hearth device add` makes, so a load test needs no manual set-up.
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { Credential, DevicePlan } from './fleet-plan.js';

export interface ProvisionOptions {
  /** API origin, e.g. `https://hub:8443` (derived from the hub URL by apiBaseOf). */
  apiBase: string;
  adminToken: string;
  ca?: string | Buffer;
  insecure?: boolean;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Called with each device as soon as it is created (its token is shown only once). */
  created?(credentials: Credential[]): void;
}

export interface ProvisionResult {
  created: Credential[];
  /** Ids the hub already had (409): their tokens are not recoverable from the API. */
  existing: string[];
}

/** Refusal or failure of a provisioning request, with the hub's error code when it sent one. */
export class ProvisionError extends Error {
  override name = 'ProvisionError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The HTTP(S) origin serving the API of the hub at `wss://host:port` (same server, /api/ paths). */
export function apiBaseOf(hubUrl: string): string {
  const url = new URL(hubUrl);
  url.protocol = url.protocol === 'ws:' ? 'http:' : 'https:';
  return url.origin;
}

/** Creates each planned device; 201 gives its token, 409 means it exists. Anything else throws ProvisionError. */
export async function provisionDevices(plans: DevicePlan[], options: ProvisionOptions): Promise<ProvisionResult> {
  const secure = options.apiBase.startsWith('https:');
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, ca: options.ca, rejectUnauthorized: options.insecure !== true })
    : new HttpAgent({ keepAlive: true });
  const result: ProvisionResult = { created: [], existing: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plans.length) {
      const plan = plans[next++]!;
      const { status, body } = await postJson(`${options.apiBase}/api/devices`, { id: plan.id, name: plan.id, type: plan.model }, options.adminToken, agent);
      const parsed = parseBody(body);
      if (status === 201 && typeof parsed.token === 'string') {
        const credential = { id: plan.id, token: parsed.token, model: plan.model };
        result.created.push(credential);
        options.created?.([credential]);
      }
      else if (status === 409) result.existing.push(plan.id);
      else throw new ProvisionError(`POST /api/devices for "${plan.id}" answered ${status}${parsed.error ? ` ${parsed.error}` : ''}${parsed.message ? `: ${parsed.message}` : ''}`, status, parsed.error ?? '');
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(plans.length, options.concurrency ?? 8) }, worker));
  } finally {
    agent.destroy();
  }
  return result;
}

function postJson(url: string, body: unknown, token: string, agent: HttpAgent | HttpsAgent): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(body);
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), Authorization: `Bearer ${token}` },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function parseBody(body: string): { token?: unknown; error?: string; message?: string } {
  try {
    const parsed = JSON.parse(body) as { token?: unknown; error?: unknown; message?: unknown };
    return {
      token: parsed.token,
      ...(typeof parsed.error === 'string' ? { error: parsed.error } : {}),
      ...(typeof parsed.message === 'string' ? { message: parsed.message } : {}),
    };
  } catch {
    return {};
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpErrorCode } from '../../protocol/error-codes.js';
import { faultCause, isStorageFault } from '../storage/fault-cause.js';

/** An HTTP error with the status and stable code the API answers with. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  constructor(status: number, code: HttpErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Seconds a client is told to wait after a storage fault (the hub retries its own writes each second). */
const STORAGE_RETRY_AFTER_S = 2;

/**
 * A storage fault (the disk, a lock, the database server out of reach) is the hub's state, not a bug: 503
 * HUB_ERR_STORAGE with its cause and Retry-After, and the client retries. False (nothing sent) for any other error.
 */
export function sendStorageFault(res: ServerResponse, err: unknown): boolean {
  if (!isStorageFault(err)) return false;
  const cause = faultCause(err);
  res.setHeader('retry-after', String(STORAGE_RETRY_AFTER_S));
  sendJson(res, 503, { error: 'HUB_ERR_STORAGE', cause, message: `storage cannot answer now (${cause}): ${(err as Error)?.message ?? String(err)}` });
  return true;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Reads a JSON object body of at most 64 KiB; anything else is a 400/413 that names the problem. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'HUB_ERR_BODY_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'request body must be a JSON object, got nothing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', `request body is not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

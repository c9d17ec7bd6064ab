// The HTTP API of firmware updates (docs/api.md): images and updates, over the facade's FirmwareControl (awaited: Promises on PostgreSQL).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role } from '../auth/user-store.js';
import type { HubFacade } from '../facade.js';
import { FirmwareError } from '../firmware/firmware-error.js';
import type { RolloutTarget } from '../firmware/rollout-plan.js';
import type * as Api from './api-types.js';
import { HttpError, readJsonBody, sendJson } from './respond.js';

const FIRMWARE_STATUS = { HUB_ERR_UNKNOWN_FIRMWARE: 404, HUB_ERR_FIRMWARE_EXISTS: 409, HUB_ERR_UNKNOWN_DEVICE: 404, HUB_ERR_BAD_REQUEST: 400 } as const;

/** Answers /api/firmware, /api/firmware/updates and /api/devices/:id/firmware; `need` throws 403 for other roles. */
export async function firmwareApi(facade: HubFacade, req: IncomingMessage, res: ServerResponse, url: URL, parts: string[], need: (roles: Role[]) => void): Promise<void> {
  const fw = facade.firmware;
  if (!fw) throw new HttpError(404, 'HUB_ERR_NOT_FOUND', 'this hub has no firmware updates');
  const method = req.method ?? 'GET';
  try {
    if (parts[1] === 'devices') {
      if (method !== 'GET') throw methodNotAllowed(method, url.pathname);
      const id = parts[2]!;
      if (!facade.device(id)) throw new HttpError(404, 'HUB_ERR_UNKNOWN_DEVICE', `no device "${id}"`);
      const limit = Number(url.searchParams.get('limit') ?? 20);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'limit must be a whole number from 1 to 1000');
      return sendJson(res, 200, { device: id, updates: await fw.updates(limit, id) } satisfies Api.DeviceFirmwareResponse);
    }
    if (parts.length === 2) {
      if (method === 'GET') return sendJson(res, 200, { images: await fw.images(), updates: await fw.updates(200) } satisfies Api.FirmwareResponse);
      if (method !== 'POST') throw methodNotAllowed(method, url.pathname);
      need(['admin']);
      const model = url.searchParams.get('model');
      const version = url.searchParams.get('version');
      if (!model || !version) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'model and version are required query parameters');
      const bytes = await readImage(req, fw.maxImageBytes);
      const known = (await fw.images()).some((i) => i.model === model && i.version === version);
      const image = await fw.addImage(bytes, model, version);
      return sendJson(res, known ? 200 : 201, { image } satisfies Api.FirmwareAddResponse);
    }
    if (parts.length === 3 && parts[2] === 'updates') {
      if (method !== 'POST') throw methodNotAllowed(method, url.pathname);
      need(['admin']);
      const body = await readJsonBody(req);
      const { device, model, version } = body;
      if (typeof version !== 'string' || version === '') throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'version is required');
      if ((typeof device === 'string') === (typeof model === 'string')) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'give exactly one of device and model');
      const target: RolloutTarget = typeof device === 'string' ? { device } : { model: model as string };
      return sendJson(res, 202, (await fw.update(target, version)) satisfies Api.FirmwareUpdateResponse);
    }
  } catch (err) {
    if (err instanceof FirmwareError) throw new HttpError(FIRMWARE_STATUS[err.code], err.code, err.message);
    throw err;
  }
  throw new HttpError(404, 'HUB_ERR_NOT_FOUND', `no API endpoint at ${url.pathname}`);
}

function methodNotAllowed(method: string, path: string): HttpError {
  return new HttpError(405, 'HUB_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
}

/** The raw request body, at most `max` bytes (413 beyond) and not empty (400). */
async function readImage(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new HttpError(413, 'HUB_ERR_BODY_TOO_LARGE', `an image over ${max} bytes (firmware.maxImageBytes)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new HttpError(413, 'HUB_ERR_BODY_TOO_LARGE', `an image over ${max} bytes (firmware.maxImageBytes)`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) throw new HttpError(400, 'HUB_ERR_BAD_REQUEST', 'the request body is the image: it is empty');
  return new Uint8Array(Buffer.concat(chunks));
}

import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { sendJson } from './respond.js';
import { requestPath } from './request.js';

// Serves the built dashboard (dist/dashboard) over the hub's HTTPS server. The build names bundles by content
// hash, so those are cached for a year; everything else (index.html) is revalidated with its ETag on each load.

export interface StaticFilesOptions {
  /** Folder of the built files, e.g. dist/dashboard. */
  root: string;
  /** Served for `/` and for unknown page paths (SPA fallback); default index.html. */
  index?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.webmanifest', '.txt']);
/** Names the dashboard build gives content-hashed bundles: `app-3FQ2K7ZB.js`. */
const HASHED_NAME = /-[A-Z0-9]{8}\.(?:js|css)$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
// Same-origin only; 'self' covers wss:// to this host. uPlot sets inline styles, hence 'unsafe-inline' for styles;
// mqtt.js runs its keep-alive timer in a blob: worker so that background tabs do not throttle it.
const CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Variant {
  file: string;
  stats: Stats;
  encoding: 'br' | 'gzip' | null;
}

/**
 * A request handler for GET/HEAD of files under `root`: content types, ETag/304, cache headers, precompressed
 * `.br`/`.gz` siblings when the client accepts them, no path outside `root`, and index.html for unknown
 * extension-less paths (client-side routes). Answers 404 JSON for /api/* and for missing files with an extension.
 */
export function createStaticFiles(opts: StaticFilesOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const index = opts.index ?? 'index.html';
  // Resolved on first use and again while missing, so a build made after the hub started is picked up.
  let rootReal: string | null = null;
  const root = async () => (rootReal ??= await realpath(opts.root).catch(() => null));

  return async (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'HUB_ERR_METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${pathOf(req)}` });
    }
    const base = await root();
    if (base === null) {
      return sendJson(res, 404, { error: 'HUB_ERR_NOT_FOUND', message: 'the dashboard is not built: run `npm run build`' });
    }
    const wanted = safeRelativePath(pathOf(req));
    if (wanted === null) return sendJson(res, 400, { error: 'HUB_ERR_BAD_REQUEST', message: 'malformed path' });
    if (wanted === 'api' || wanted.startsWith('api/')) return notFound(req, res);

    const rel = wanted === '' || wanted.endsWith('/') ? `${wanted}${index}` : wanted;
    let variant = await findVariant(base, rel, req.headers['accept-encoding']);
    if (!variant) {
      // Client-side routes (#-less deep links, /device/x) get the app; a missing asset stays a 404.
      if (path.posix.extname(rel) !== '') return notFound(req, res);
      variant = await findVariant(base, index, req.headers['accept-encoding']);
      if (!variant) return notFound(req, res);
    }
    send(req, res, variant, HASHED_NAME.test(variant.file.replace(/\.(br|gz)$/, '')));
  };
}

function pathOf(req: IncomingMessage): string {
  return requestPath(req.url);
}

/**
 * The request path as a path relative to the root ('' for the root itself), or null when it is malformed or
 * tries to leave the root (`..`, encoded separators, NUL, dot-files such as .git).
 */
export function safeRelativePath(urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s.startsWith('.') && s !== '.')) return null;
  const normalized = path.posix.normalize(decoded);
  return normalized.slice(1);
}

async function findVariant(base: string, rel: string, acceptEncoding: string | string[] | undefined): Promise<Variant | null> {
  const file = path.join(base, ...rel.split('/'));
  // Containment is checked on the real path too, so a symlink in the build folder cannot point outside it.
  const real = await realpath(file).catch(() => null);
  if (real === null || (real !== base && !real.startsWith(base + path.sep))) return null;
  const stats = await stat(real).catch(() => null);
  if (!stats?.isFile()) return null;
  const accepts = parseAcceptEncoding(acceptEncoding);
  if (COMPRESSIBLE.has(path.extname(real))) {
    for (const [encoding, suffix] of [['br', '.br'], ['gzip', '.gz']] as const) {
      if (!accepts.has(encoding)) continue;
      const packed = await stat(real + suffix).catch(() => null);
      if (packed?.isFile() && packed.mtimeMs >= stats.mtimeMs) return { file: real + suffix, stats: packed, encoding };
    }
  }
  return { file: real, stats, encoding: null };
}

function parseAcceptEncoding(header: string | string[] | undefined): Set<string> {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const out = new Set<string>();
  for (const part of text.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    out.add(name);
  }
  return out;
}

function send(req: IncomingMessage, res: ServerResponse, v: Variant, immutable: boolean): void {
  const original = v.encoding ? v.file.slice(0, v.file.lastIndexOf('.')) : v.file;
  const ext = path.extname(original);
  const etag = `W/"${v.stats.size.toString(16)}-${Math.floor(v.stats.mtimeMs).toString(16)}${v.encoding ? `-${v.encoding}` : ''}"`;
  res.setHeader('content-type', CONTENT_TYPES[ext] ?? 'application/octet-stream');
  res.setHeader('cache-control', immutable ? IMMUTABLE : 'no-cache');
  res.setHeader('etag', etag);
  res.setHeader('last-modified', v.stats.mtime.toUTCString());
  res.setHeader('x-content-type-options', 'nosniff');
  if (COMPRESSIBLE.has(ext)) res.setHeader('vary', 'Accept-Encoding');
  if (v.encoding) res.setHeader('content-encoding', v.encoding);
  if (ext === '.html') {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
  }
  const inm = req.headers['if-none-match'];
  if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('content-length', v.stats.size);
  res.statusCode = 200;
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(v.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 404, { error: 'HUB_ERR_NOT_FOUND', message: `nothing at ${req.method} ${pathOf(req)}` });
}

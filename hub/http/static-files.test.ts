import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { createStaticFiles, safeRelativePath } from './static-files.js';

const INDEX = '<!doctype html><title>Hearth</title>';
const APP = 'console.log("app");'.repeat(20);
const SECRET = 'do not serve me';

let top: string;
let root: string;
let server: Server;
let base: string;

function serve(dir: string): Promise<{ server: Server; base: string }> {
  const handler = createStaticFiles({ root: dir });
  const s = createServer((req, res) => void handler(req, res));
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve({ server: s, base: `http://127.0.0.1:${(s.address() as AddressInfo).port}` })));
}

/** A raw request: the path is sent exactly as given (no client-side normalization of `..`). */
function get(path: string, headers: Record<string, string> = {}, method = 'GET', at = base): Promise<{ status: number; body: Buffer; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${at}/`, { method, headers, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  top = mkdtempSync(join(tmpdir(), 'hearth-static-'));
  root = join(top, 'dashboard');
  mkdirSync(join(root, 'img'), { recursive: true });
  writeFileSync(join(top, 'secret.txt'), SECRET);
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'app-ABCD2345.js'), APP);
  writeFileSync(join(root, 'app-ABCD2345.js.gz'), gzipSync(APP));
  writeFileSync(join(root, 'app-ABCD2345.js.br'), brotliCompressSync(APP));
  writeFileSync(join(root, 'style.css'), 'body{}');
  writeFileSync(join(root, 'img', 'logo.svg'), '<svg/>');
  writeFileSync(join(root, 'data.bin'), Buffer.from([1, 2, 3]));
  writeFileSync(join(root, '.env'), SECRET);
  symlinkSync(join(top, 'secret.txt'), join(root, 'link.txt'));
  ({ server, base } = await serve(root));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(top, { recursive: true, force: true });
});

describe('static files', () => {
  it('serves index.html at / with no-cache and the security headers', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(INDEX);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('gives each file its content type', async () => {
    expect((await get('/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get('/img/logo.svg')).headers['content-type']).toBe('image/svg+xml');
    expect((await get('/data.bin')).headers['content-type']).toBe('application/octet-stream');
  });

  it('caches content-hashed bundles for a year and serves the best precompressed variant', async () => {
    const br = await get('/app-ABCD2345.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.body.equals(brotliCompressSync(APP))).toBe(true);
    const gz = await get('/app-ABCD2345.js', { 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body.equals(gzipSync(APP))).toBe(true);
    const plain = await get('/app-ABCD2345.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(APP);
    expect(Number(plain.headers['content-length'])).toBe(APP.length);
  });

  it('answers 304 to a matching If-None-Match and HEAD without a body', async () => {
    const first = await get('/style.css');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await get('/style.css', { 'if-none-match': etag });
    expect([again.status, again.body.length]).toEqual([304, 0]);
    const head = await get('/style.css', {}, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '6', 0]);
  });

  it('falls back to index.html for page paths, but not for missing assets or /api', async () => {
    const page = await get('/device/kitchen');
    expect([page.status, page.body.toString()]).toEqual([200, INDEX]);
    const asset = await get('/missing.js');
    expect([asset.status, JSON.parse(asset.body.toString()).error]).toEqual([404, 'HUB_ERR_NOT_FOUND']);
    expect((await get('/api/nowhere')).status).toBe(404);
    expect((await get('/api')).status).toBe(404);
  });

  it.each([
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/img/..%2f..%2fsecret.txt',
    '/%2e%2e%5csecret.txt',
    '/.env',
    '/img/../.env',
    '/link.txt',
    '/index.html%00.js',
  ])('never serves anything outside the root or hidden: %s', async (path) => {
    const res = await get(path);
    expect(res.body.toString()).not.toContain(SECRET);
    expect([400, 404]).toContain(res.status);
  });

  it('answers 400 for a malformed escape and 405 with Allow for other methods', async () => {
    expect((await get('/%E0%A4%A')).status).toBe(400);
    const post = await get('/', {}, 'POST');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('says the dashboard is not built when its folder is missing', async () => {
    const missing = await serve(join(top, 'not-built'));
    try {
      const res = await get('/', {}, 'GET', missing.base);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body.toString()).message).toContain('npm run build');
    } finally {
      await new Promise((resolve) => missing.server.close(resolve));
    }
  });
});

describe('safeRelativePath', () => {
  it.each([
    ['/', ''],
    ['/app.js', 'app.js'],
    ['/img/./logo.svg', 'img/logo.svg'],
    ['/a//b', 'a/b'],
    ['/dir/', 'dir/'],
    ['/../x', null],
    ['/a/%2E%2E/x', null],
    ['/.git/config', null],
    ['relative', null],
    ['/a\\b', null],
  ])('%s -> %j', (input, output) => expect(safeRelativePath(input)).toBe(output));
});

// Builds the dashboard into dist/dashboard: the TypeScript bundle (mqtt.js and uPlot included) minified by
// esbuild, the style sheets, and index.html pointing at content-hashed names so the hub can cache them for a
// year. Every text file also gets .br and .gz siblings, which the hub serves to browsers that accept them.
//   node dashboard/build.mjs            build
//   node dashboard/build.mjs --dev      no minification, for reading the output
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const require = (await import('node:module')).createRequire(import.meta.url);

/** Builds into `outDir` (default dist/dashboard); resolves with the written files and their sizes. */
export async function buildDashboard({ outDir = path.join(repo, 'dist', 'dashboard'), minify = true } = {}) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });

  const result = await esbuild.build({
    entryPoints: { app: path.join(here, 'src', 'main.ts') },
    outdir: outDir,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  const script = Object.keys(result.metafile.outputs).find((f) => /app-[A-Z0-9]{8}\.js$/.test(f));
  if (!script) throw new Error('esbuild wrote no app bundle');

  const styles = {
    'uplot.css': await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    'style.css': await readFile(path.join(here, 'style.css'), 'utf8'),
  };
  const names = { 'app.js': path.basename(script) };
  for (const [name, text] of Object.entries(styles)) {
    const hashed = `${name.replace(/\.css$/, '')}-${contentHash(text)}.css`;
    names[name] = hashed;
    await writeFile(path.join(outDir, hashed), minify ? minifyCss(text) : text);
  }

  let html = await readFile(path.join(here, 'index.html'), 'utf8');
  for (const [plain, hashed] of Object.entries(names)) {
    const ref = new RegExp(`(href|src)="${plain.replace('.', '\\.')}"`, 'g');
    if (!ref.test(html)) throw new Error(`index.html does not reference ${plain}`);
    html = html.replace(ref, `$1="${hashed}"`);
  }
  await writeFile(path.join(outDir, 'index.html'), html);

  const files = [];
  for (const name of (await readdir(outDir)).sort()) {
    const file = path.join(outDir, name);
    const body = await readFile(file);
    const entry = { name, bytes: body.length, gzip: null, brotli: null };
    // Source maps and licence text are fetched rarely (and compressing the map with brotli 11 takes seconds).
    if (/\.(js|css|html)$/.test(name)) {
      const gz = gzipSync(body, { level: 9 });
      const br = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } });
      await writeFile(`${file}.gz`, gz);
      await writeFile(`${file}.br`, br);
      entry.gzip = gz.length;
      entry.brotli = br.length;
    }
    files.push(entry);
  }
  return { outDir, files };
}

/** Eight characters of base32 SHA-256, the alphabet esbuild's [hash] uses, so the hub treats both alike. */
function contentHash(text) {
  const digest = createHash('sha256').update(text).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  for (let i = 0; i < 8; i++) out += alphabet[digest[i] % 32];
  return out;
}

/** Enough CSS minification for our own sheet: comments and surplus whitespace go (uPlot's is minified already). */
function minifyCss(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\s+/g, ' ')
    .replace(/\s*([{}:;,>])\s*/g, '$1')
    .replace(/;}/g, '}')
    .trim();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const { outDir, files } = await buildDashboard({ minify: !process.argv.includes('--dev') });
  const kib = (n) => (n === null ? '' : `${(n / 1024).toFixed(1)} KiB`);
  console.log(`dashboard built into ${path.relative(process.cwd(), outDir) || outDir} in ${Math.round(performance.now() - started)} ms`);
  for (const f of files) console.log(`  ${f.name.padEnd(34)} ${kib(f.bytes).padStart(10)}  gzip ${kib(f.gzip).padStart(10)}  br ${kib(f.brotli).padStart(10)}`);
}

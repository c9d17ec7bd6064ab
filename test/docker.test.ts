// docker/Dockerfile, docker/compose.yaml and .dockerignore checked against the repository they package: no
// Docker engine runs here, so every path, script, port, variable and flag they name is checked instead, and
// the HEALTHCHECK command itself is run against a real HTTPS server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSimArgs } from '../device-sim/args.js';
import { CONFIG_SCHEMA, envName } from '../hub/config.js';
import { loadOrCreateTls } from '../hub/tls.js';
import { execArgv, parseCopy, parseDockerfile, parseYaml, shellWords, type Stage, type Yaml } from './support/docker-files.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCKER_DIR = join(ROOT, 'docker');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
const tsBuild = JSON.parse(read('tsconfig.build.json')) as { extends: string; include: string[] };
const tsBase = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
const HEARTH_VARS = new Set(Object.keys(CONFIG_SCHEMA).map(envName));

// ---- .dockerignore: Go filepath.Match patterns from the context root, ** for any depth ---------------------

function ignoredBy(patterns: string[]): (path: string) => boolean {
  const regexes = patterns.map((p) => {
    const body = p
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .map((seg) => (seg === '**' ? '(?:.*/)?' : `${seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`))
      .join('');
    // A pattern matching a directory excludes everything below it.
    return new RegExp(`^${body.replace(/\/$/, '')}(?:/.*)?$`);
  });
  return (path) => regexes.some((r) => r.test(path));
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'));
}

// ---- the files under test ----------------------------------------------------------------------------------

const stages = parseDockerfile(read('docker/Dockerfile'));
const buildStage = stages[0]!;
const finalStage = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const compose = parseYaml(read('docker/compose.yaml')) as { services: Record<string, Record<string, Yaml>>; volumes: Record<string, Yaml> };
const services = compose.services;
const dockerignore = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const exposed = all(finalStage, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
const defaultPorts = [CONFIG_SCHEMA.port.default, CONFIG_SCHEMA['mqtt.port'].default, CONFIG_SCHEMA['mqtt.tlsPort'].default];
/** dist/x/y.js -> x/y.ts, by tsconfig's outDir and rootDir. */
const sourceOf = (built: string) => posix.join(tsBase.compilerOptions.rootDir, posix.relative(tsBase.compilerOptions.outDir, built)).replace(/\.js$/, '.ts');
/** Paths (relative to WORKDIR) the build stage's commands produce. */
const PRODUCED_BY: Record<string, string[]> = { 'npm ci': ['node_modules'], 'npm run build': [tsBase.compilerOptions.outDir] };

describe('docker/Dockerfile', () => {
  it('is two stages on node:20-bookworm-slim, a named build stage then the runtime', () => {
    expect(stages.map((s) => s.from)).toEqual(['node:20-bookworm-slim', 'node:20-bookworm-slim']);
    expect(buildStage.name).toBe('build');
    expect(finalStage.name).toBeUndefined();
    expect(all(buildStage, 'RUN').map((r) => r.args).join('\n')).toMatch(/apt-get install[^\n]* python3 make g\+\+/);
  });

  it('copies into the build stage every source that exists, none of them excluded by .dockerignore', () => {
    const ignored = ignoredBy(dockerignore);
    const sources = all(buildStage, 'COPY').map((c) => parseCopy(c.args)).flatMap((c) => c.sources);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) expect({ src, exists: existsSync(join(ROOT, src)), ignored: ignored(src) }).toEqual({ src, exists: true, ignored: false });
    // Every file tsc or the dashboard bundler reads (sources, JSON, HTML, CSS) reaches the build context.
    const dirs = sources.filter((s) => statSync(join(ROOT, s)).isDirectory());
    const dropped = dirs.flatMap(filesUnder).filter((f) => /\.(ts|mjs|js|json|html|css)$/.test(f) && ignored(f));
    expect(dropped).toEqual([]);
  });

  it('copies what `npm ci` and `npm run build` read before running them', () => {
    const copied = (before: number) =>
      new Set(all(buildStage, 'COPY').filter((c) => c.line < before).flatMap((c) => parseCopy(c.args).sources));
    const ci = all(buildStage, 'RUN').find((r) => /\bnpm ci\b/.test(r.args))!;
    expect([...copied(ci.line)]).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    const build = all(buildStage, 'RUN').find((r) => /\bnpm run build\b/.test(r.args))!;
    // What the build script names: tsc's project (its includes and the config it extends) and node scripts.
    const script = pkg.scripts.build!;
    const project = /tsc -p (\S+)/.exec(script)![1]!;
    const nodeFiles = [...script.matchAll(/\bnode (\S+)/g)].map((m) => m[1]!);
    const needed = [project, tsBuild.extends.replace(/^\.\//, ''), ...tsBuild.include, ...nodeFiles.map((f) => f.split('/')[0]!)];
    expect({ missing: needed.filter((n) => !copied(build.line).has(n)) }).toEqual({ missing: [] });
  });

  it('names only npm scripts that exist in package.json', () => {
    const builtin = new Set(['ci', 'install', 'prune']);
    const runs = stages.flatMap((s) => all(s, 'RUN')).map((r) => r.args).join(' && ');
    const named = [...runs.matchAll(/\bnpm (run )?([a-z][\w:-]*)/g)].map((m) => ({ script: m[2]!, run: Boolean(m[1]) }));
    expect(named.length).toBeGreaterThanOrEqual(3);
    for (const { script, run } of named) {
      if (!run && builtin.has(script)) continue;
      expect({ script, defined: script in pkg.scripts }).toEqual({ script, defined: true });
    }
  });

  it('takes the commit as the build argument HEARTH_COMMIT before npm run build, since .git is not in the context', () => {
    expect(dockerignore).toContain('.git');
    const order = buildStage.instructions.map((i) => (i.keyword === 'ARG' ? i.args : i.keyword === 'RUN' && i.args.includes('npm run build') ? 'build' : '')).filter(Boolean);
    expect(order).toEqual(['HEARTH_COMMIT=', 'build']);
    expect(readFileSync(join(ROOT, 'hub', 'build-info.mjs'), 'utf8')).toContain('process.env.HEARTH_COMMIT');
  });

  it('copies into the runtime only package.json, node_modules and dist, each produced by the build stage', () => {
    const copies = all(finalStage, 'COPY').map((c) => parseCopy(c.args));
    const workdir = all(buildStage, 'WORKDIR').at(-1)!.args;
    const producedInBuild = new Set([
      ...all(buildStage, 'COPY').flatMap((c) => parseCopy(c.args).sources.map((s) => posix.join(workdir, s))),
      ...Object.entries(PRODUCED_BY)
        .filter(([cmd]) => all(buildStage, 'RUN').some((r) => r.args.includes(cmd)))
        .flatMap(([, paths]) => paths.map((p) => posix.join(workdir, p))),
    ]);
    expect(copies.map((c) => c.flags.from)).toEqual(copies.map(() => buildStage.name));
    expect(copies.flatMap((c) => c.sources).sort()).toEqual(['/app/dist', '/app/node_modules', '/app/package.json']);
    for (const src of copies.flatMap((c) => c.sources)) expect({ src, produced: producedInBuild.has(src) }).toEqual({ src, produced: true });
    expect(all(buildStage, 'RUN').some((r) => /npm prune --omit=dev/.test(r.args))).toBe(true);
  });

  it('runs the hub as the non-root node user with no compiler in the runtime stage', () => {
    const runtime = finalStage.instructions.map((i) => `${i.keyword} ${i.args}`).join('\n');
    expect(runtime).not.toMatch(/apt-get|apk |g\+\+|\bmake\b|python3|npm (ci|install)/);
    const users = all(finalStage, 'USER').map((u) => u.args);
    expect(users).toEqual(['node']);
    const cmd = all(finalStage, 'CMD')[0]!;
    expect(all(finalStage, 'USER')[0]!.line).toBeLessThan(cmd.line);
  });

  it('CMD runs `hearth start` from dist, which npm run build makes from hub/cli.ts', async () => {
    const cmds = all(finalStage, 'CMD');
    expect(cmds).toHaveLength(1);
    const argv = JSON.parse(cmds[0]!.args) as string[];
    expect(argv).toEqual(['node', 'dist/hub/cli.js', 'start']);
    expect(pkg.bin.hearth).toBe(argv[1]);
    expect(all(finalStage, 'WORKDIR').at(-1)!.args).toBe(all(buildStage, 'WORKDIR').at(-1)!.args);
    expect(sourceOf(argv[1]!)).toBe('hub/cli.ts');
    expect(existsSync(join(ROOT, sourceOf(argv[1]!)))).toBe(true);
    const { main } = await import('../hub/cli.js');
    let out = '';
    const code = await main([argv[2]!, '--help'], { out: { write: (t: string) => (out += t) }, err: { write: () => true }, stdin: process.stdin } as never);
    expect({ code, usage: out.startsWith('Usage: hearth start') }).toEqual({ code: 0, usage: true });
  });

  it('EXPOSEs exactly the default ports of hub/config.ts', () => {
    expect([...exposed].sort()).toEqual([...defaultPorts].sort());
  });

  it('sets only HEARTH_* variables that hub/config.ts reads, data in the VOLUME, MQTT facing the network', () => {
    const env = Object.fromEntries(
      all(finalStage, 'ENV').flatMap((e) => [...e.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
    );
    for (const name of Object.keys(env)) expect({ name, known: HEARTH_VARS.has(name) }).toEqual({ name, known: true });
    const volume = all(finalStage, 'VOLUME').map((v) => v.args);
    expect(volume).toEqual([env[envName('dataDir')]]);
    expect(env[envName('mqtt.host')]).toBe('0.0.0.0');
    // Changes to a path after VOLUME declares it are discarded: the chown must come first.
    const volumeLine = all(finalStage, 'VOLUME')[0]!.line;
    const chown = all(finalStage, 'RUN').find((r) => r.line < volumeLine && r.args.includes('chown') && r.args.includes(volume[0]!));
    expect(chown?.args).toContain('node:node');
  });

  describe('HEALTHCHECK', () => {
    const healthcheck = all(finalStage, 'HEALTHCHECK')[0]!;
    const argv = shellWords(healthcheck.args.slice(healthcheck.args.indexOf(' CMD ') + 5));
    let dir: string;
    let server: Server;
    let status = 200;
    const paths: string[] = [];
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'hearth-docker-'));
      const tls = await loadOrCreateTls({ dataDir: dir });
      server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
        paths.push(req.url ?? '');
        res.writeHead(status).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    });
    const probe = (port: number) =>
      new Promise<number>((done) => {
        const child = execFile(process.execPath, argv.slice(1), { env: { [envName('port')]: String(port) }, timeout: 10_000 }, () => done(child.exitCode ?? -1));
      });

    it('uses node itself (no curl in slim) on the default HTTPS port', () => {
      expect(argv.slice(0, 2)).toEqual(['node', '-e']);
      expect(argv[2]).toContain(`||${CONFIG_SCHEMA.port.default}`);
    });

    it('exits 0 on a 200 from /healthz over self-signed TLS, 1 on an error status or no server', async () => {
      const port = (server.address() as AddressInfo).port;
      status = 200;
      expect(await probe(port)).toBe(0);
      expect(paths).toEqual(['/healthz']);
      status = 503;
      expect(await probe(port)).toBe(1);
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const unused = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      expect(await probe(unused)).toBe(1);
    });

    it('probes a path the hub serves', () => {
      const hubSources = filesUnder('hub').filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
      const serves = hubSources.some((f) => /['"`]\/healthz['"`]/.test(read(f)));
      expect({ path: '/healthz', servedByHub: serves }).toEqual({ path: '/healthz', servedByHub: true });
    });
  });
});

describe('docker/compose.yaml', () => {
  const [hub, fleet, mosquitto] = [services.hub!, services.fleet!, services.mosquitto!];

  it('builds the hub from docker/Dockerfile with the repository as context; the fleet runs the same image', () => {
    const build = hub.build as { context: string; dockerfile: string; args?: Record<string, string> };
    expect(build.args).toEqual({ HEARTH_COMMIT: '${HEARTH_COMMIT:-}' });
    const context = resolve(DOCKER_DIR, build.context);
    expect(context).toBe(resolve(ROOT));
    expect(relative(ROOT, resolve(context, build.dockerfile))).toBe(join('docker', 'Dockerfile'));
    expect(fleet.image).toBe(hub.image);
    expect(fleet.build).toBeUndefined();
    expect(fleet.pull_policy).toBe('never');
  });

  it('publishes every EXPOSEd port and maps only to EXPOSEd ports', () => {
    const containerPorts = (hub.ports as string[]).map((p) => Number(p.split(':').at(-1)));
    expect([...containerPorts].sort()).toEqual([...exposed].sort());
    for (const s of [fleet, mosquitto]) expect(s.ports).toBeUndefined();
  });

  it('sets only HEARTH_* variables that envName() makes from a schema key', () => {
    // The hub image's services set only Hearth's variables; the others (postgres) their image's own.
    const ofHub = Object.values(services).filter((s) => s.image === hub.image);
    const names = ofHub.flatMap((s) => Object.keys((s.environment ?? {}) as object));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect({ name, known: HEARTH_VARS.has(name) }).toEqual({ name, known: true });
    // HEARTH_COMMIT is a build argument (hub/build-info.mjs), not a setting.
    const mentioned = [...read('docker/compose.yaml').matchAll(/HEARTH_[A-Z_]+/g)].map((m) => m[0]).filter((n) => n !== 'HEARTH_COMMIT');
    for (const name of mentioned) expect({ name, known: HEARTH_VARS.has(name) }).toEqual({ name, known: true });
  });

  it('starts the fleet once the hub is healthy, with flags the simulator accepts', () => {
    expect(fleet.depends_on).toEqual({ hub: { condition: 'service_healthy' } });
    expect(all(finalStage, 'HEALTHCHECK')).toHaveLength(1);
    expect(hub.healthcheck).toBeUndefined(); // inherited from the image
    expect(fleet.healthcheck).toEqual({ disable: true }); // the image's probe looks for a hub in the fleet's container
    const [shell, dashC, script] = fleet.command as string[];
    expect([shell, dashC]).toEqual(['sh', '-c']);
    // Compose turns $$ into $; the shell then substitutes $(cat FILE).
    const { argv, catFiles: tokenFiles } = execArgv(script!, 'ha1_token');
    expect(argv[0]).toBe('node');
    expect(sourceOf(argv[1]!)).toBe('device-sim/cli.ts');
    expect(existsSync(join(ROOT, sourceOf(argv[1]!)))).toBe(true);
    const args = parseSimArgs(argv.slice(2));
    expect(new URL(args.hub).hostname).toBe('hub');
    expect(Number(new URL(args.hub).port)).toBe(CONFIG_SCHEMA.port.default);
    expect({ provision: args.provision, insecure: args.insecure, models: args.mix?.length }).toEqual({ provision: true, insecure: true, models: 6 });
    const env = Object.fromEntries(all(finalStage, 'ENV').flatMap((e) => [...e.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
    expect(tokenFiles).toEqual([posix.join(env[envName('dataDir')]!, 'admin.token')]);
    // The fleet reads the hub's data read-only and writes its own state where the image made it writable.
    expect(fleet.volumes).toContain(`hearth-data:${env[envName('dataDir')]}:ro`);
    const stateMount = (fleet.volumes as string[]).find((v) => v.startsWith('fleet-state:'))!.split(':')[1]!;
    expect(args.credentials?.startsWith(`${stateMount}/`)).toBe(true);
    expect(args.stateDir?.startsWith(`${stateMount}/`)).toBe(true);
    expect(all(finalStage, 'RUN').some((r) => r.args.includes('chown') && r.args.includes(stateMount))).toBe(true);
  });

  it('runs Mosquitto only in the external and scale-out profiles, and says how the hub publishes into it', () => {
    expect(mosquitto.image).toBe('eclipse-mosquitto:2');
    expect(mosquitto.profiles).toEqual(['external', 'scale-out']);
    expect(hub.profiles).toBeUndefined();
    const urlVar = envName('mqtt.url');
    expect((hub.environment as Record<string, string>)[urlVar]).toBe(`\${${urlVar}:-}`);
    expect(read('docker/compose.yaml')).toContain(`${urlVar}=mqtt://mosquitto:1883 docker compose -f docker/compose.yaml --profile external up`);
  });

  it('declares every named volume it mounts', () => {
    // A source starting with . or / is a bind mount (docker/haproxy.cfg), not a named volume.
    const mounted = Object.values(services).flatMap((s) => ((s.volumes ?? []) as string[]).map((v) => v.split(':')[0]!)).filter((v) => !/^[./]/.test(v));
    expect([...new Set(mounted)].sort()).toEqual(Object.keys(compose.volumes).sort());
  });

  it('runs only the hub and the fleet without a profile', () => {
    const always = Object.entries(services).filter(([, s]) => s.profiles === undefined).map(([name]) => name);
    expect(always.sort()).toEqual(['fleet', 'hub']);
  });

  it('is the command the README documents', () => {
    expect(read('README.md')).toContain('docker compose -f docker/compose.yaml up');
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, build output, git and local data out of the build context', () => {
    const ignored = ignoredBy(dockerignore);
    for (const path of ['node_modules', 'dist', '.git', 'data', 'data/hearth.db', 'test-output', 'hub/x.db', 'a/b/key.pem']) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
    }
    for (const path of ['hub/cli.ts', 'package.json', 'package-lock.json', 'dashboard/index.html']) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false });
    }
  });
});

describe('the minimal parsers this test relies on', () => {
  it('parse the YAML subset, refusing what they do not support', () => {
    expect(parseYaml('a:\n  b: "x\\ny" # c\n  c:\n    - 1\n    - |\n      l1\n      l2\n  d:\nz: >-\n  f\n  g\n')).toEqual({
      a: { b: 'x\ny', c: ['1', 'l1\nl2\n'], d: null },
      z: 'f g',
    });
    expect(() => parseYaml('a: [1, 2]\n')).toThrow('unsupported');
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow('duplicate');
    expect(() => parseYaml('a: 1\n   b: 2\n')).toThrow();
  });

  it('split Dockerfile continuations and shell words', () => {
    expect(parseDockerfile('FROM x AS b\n# c\nRUN a \\\n  && b\n')).toEqual([{ from: 'x', name: 'b', instructions: [{ keyword: 'RUN', args: 'a && b', line: 3 }] }]);
    expect(shellWords(`node -e "a('b')||\\"c\\"" 'd e'`)).toEqual(['node', '-e', `a('b')||"c"`, 'd e']);
  });
});

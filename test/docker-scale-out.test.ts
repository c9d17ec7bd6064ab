// docker/compose.yaml's profile "scale-out" (issue #16 section 3) and docker/haproxy.cfg: no Docker engine
// runs here, so the profile is checked against what it runs instead. PostgreSQL, Mosquitto, two hubs on one
// database with distinct ids and one certificate (their environment read by the hub's own loadConfig), a TCP
// balancer naming both with health checks on a path the hub serves, and a fleet through the balancer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSimArgs } from '../device-sim/args.js';
import { CONFIG_SCHEMA, dbUrlProblem, loadConfig, type HubConfig } from '../hub/config.js';
import { HEALTH_PATHS } from '../hub/http/health-server.js';
import { loadOrCreateTls } from '../hub/tls.js';
import { execArgv, parseDockerfile, parseHaproxy, parseYaml, type Yaml } from './support/docker-files.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCKER_DIR = join(ROOT, 'docker');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
type Service = Record<string, Yaml>;
const services = (parseYaml(read('docker/compose.yaml')) as { services: Record<string, Service> }).services;
const PROFILE = 'scale-out';
const inProfile = Object.entries(services).filter(([, s]) => ((s.profiles ?? []) as string[]).includes(PROFILE));
const hubImage = services.hub!.image;
const env = (s: Service) => (s.environment ?? {}) as Record<string, string>;
/** The hubs of the profile: the hub image, started with its CMD (the fleet has a command of its own). */
const hubs = inProfile.filter(([, s]) => s.image === hubImage && s.command === undefined);
const finalStage = parseDockerfile(read('docker/Dockerfile')).at(-1)!;
const imageEnv = Object.fromEntries(
  finalStage.instructions.filter((i) => i.keyword === 'ENV').flatMap((e) => [...e.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
);
/** A hub service's configuration as the hub itself loads it: the image's ENV, then the service's environment. */
const configOf = (s: Service): HubConfig => loadConfig({ file: null, env: { ...imageEnv, ...env(s) } });
const mounts = (s: Service) => ((s.volumes ?? []) as string[]).map((v) => { const [source, target, mode] = v.split(':'); return { source: source!, target: target!, mode }; });
/** Services `name` depends on, directly or through others, with the condition of each edge. */
function dependsOn(name: string, seen = new Map<string, string>()): Map<string, string> {
  for (const [dep, how] of Object.entries((services[name]!.depends_on ?? {}) as Record<string, { condition: string }>)) {
    if (seen.has(dep)) continue;
    seen.set(dep, how.condition);
    dependsOn(dep, seen);
  }
  return seen;
}
const haproxyFile = '/usr/local/etc/haproxy/haproxy.cfg';
const balancer = services.balancer!;
const cfgMount = mounts(balancer).find((m) => m.target === haproxyFile);
const haproxy = parseHaproxy(readFileSync(resolve(DOCKER_DIR, cfgMount?.source ?? 'haproxy.cfg'), 'utf8'));
const section = (kind: string) => haproxy.filter((s) => s.kind === kind);
const directive = (words: string[][], first: string) => words.filter((w) => w[0] === first);

describe(`docker/compose.yaml profile ${PROFILE}`, () => {
  it('holds PostgreSQL, Mosquitto, two hubs, a TCP load balancer and a fleet, each from the right image', () => {
    expect(inProfile.map(([n]) => n).sort()).toEqual(['balancer', 'hub-a', 'hub-b', 'mosquitto', 'postgres', 'scale-fleet']);
    expect(services.postgres!.image).toBe('postgres:15');
    expect(balancer.image).toBe('haproxy:2.8');
    expect(hubs.map(([n]) => n).sort()).toEqual(['hub-a', 'hub-b']);
    expect(services['scale-fleet']!.image).toBe(hubImage);
    // Whichever service starts first builds the one image; the others never pull it.
    expect(services['hub-a']!.build).toEqual(services.hub!.build);
    expect(services['hub-a']!.pull_policy).toBe('build');
    for (const n of ['hub-b', 'scale-fleet']) expect({ n, pull: services[n]!.pull_policy, build: services[n]!.build }).toEqual({ n, pull: 'never', build: undefined });
  });

  it('keeps PostgreSQL in a volume, healthy by pg_isready, and every hub names it in one valid db.url and waits for it', () => {
    const pg = services.postgres!;
    const pgEnv = env(pg);
    expect(mounts(pg).map((m) => m.target)).toContain('/var/lib/postgresql/data');
    const test = (pg.healthcheck as { test: string[] }).test;
    expect(test[0]).toBe('CMD-SHELL');
    expect(test[1]).toBe(`pg_isready -U ${pgEnv.POSTGRES_USER} -d ${pgEnv.POSTGRES_DB}`);
    const urls = new Set(hubs.map(([, s]) => configOf(s)['db.url']));
    expect(urls.size).toBe(1);
    const url = [...urls][0]!;
    expect(dbUrlProblem(url!)).toBeUndefined();
    const u = new URL(url!);
    expect({ host: u.hostname, port: u.port || '5432', user: u.username, password: u.password, db: u.pathname.slice(1) }).toEqual({
      host: 'postgres', port: '5432', user: pgEnv.POSTGRES_USER, password: pgEnv.POSTGRES_PASSWORD, db: pgEnv.POSTGRES_DB,
    });
    for (const [name] of hubs) expect({ name, postgres: dependsOn(name).get('postgres') }).toEqual({ name, postgres: 'service_healthy' });
  });

  it('gives the hubs distinct valid ids, Mosquitto as their broker and no MQTT listener port of their own', () => {
    const configs = hubs.map(([, s]) => configOf(s));
    const ids = configs.map((c) => c['hub.id']);
    expect(ids.every((id) => id !== null && CONFIG_SCHEMA['hub.id'].pattern.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(hubs.length);
    for (const [i, c] of configs.entries()) {
      const name = hubs[i]![0];
      const broker = new URL(c['mqtt.url']!);
      expect({ name, protocol: broker.protocol, host: broker.hostname, inProfile: inProfile.some(([n]) => n === broker.hostname) }).toEqual({ name, protocol: 'mqtt:', host: 'mosquitto', inProfile: true });
      expect(dependsOn(name).has('mosquitto')).toBe(true);
      // Two hubs cannot both publish 1883 and 8883; the embedded broker may stay on for /mqtt.
      expect({ name, listeners: c['mqtt.embedded'] ? [c['mqtt.port'], c['mqtt.tlsPort']] : [] }).toEqual({ name, listeners: c['mqtt.embedded'] ? [null, null] : [] });
      expect(services[name]!.ports).toBeUndefined();
    }
  });

  describe('one certificate for both hubs', () => {
    let layout: { cert: string; key: string };
    let dir: string;
    beforeAll(async () => {
      // Where a hub generates its certificate and key when tls.cert is not set: learnt from the hub's own code.
      dir = mkdtempSync(join(tmpdir(), 'hearth-docker-scale-'));
      const tls = await loadOrCreateTls({ dataDir: dir });
      const keyFile = readdirSync(join(dir, 'tls')).find((f) => readFileSync(join(dir, 'tls', f), 'utf8').includes('PRIVATE KEY'))!;
      layout = { cert: relative(dir, tls.certPath).split('\\').join('/'), key: `tls/${keyFile}` };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('is the one hub-a generates in its volume, which hub-b mounts read-only after hub-a is healthy', () => {
      /** The named volume and the path inside it that a path in service `s` lands on. */
      const inVolume = (s: Service, path: string) => {
        const m = mounts(s).filter((x) => path.startsWith(`${x.target}/`)).sort((a, b) => b.target.length - a.target.length)[0];
        return m ? { volume: m.source, path: posix.relative(m.target, path), mode: m.mode } : undefined;
      };
      const files = hubs.map(([name, s]) => {
        const c = configOf(s);
        const cert = c['tls.cert'] ?? posix.join(c.dataDir, layout.cert);
        const key = c['tls.key'] ?? posix.join(c.dataDir, layout.key);
        return { name, generates: c['tls.cert'] === null, cert: inVolume(s, cert), key: inVolume(s, key) };
      });
      const makers = files.filter((f) => f.generates);
      expect(makers.map((f) => f.name)).toEqual(['hub-a']);
      for (const f of files) {
        expect({ name: f.name, cert: f.cert?.volume, certPath: f.cert?.path, key: f.key?.volume, keyPath: f.key?.path }).toEqual({
          name: f.name, cert: makers[0]!.cert!.volume, certPath: layout.cert, key: makers[0]!.cert!.volume, keyPath: layout.key,
        });
        if (f.generates) continue;
        expect({ name: f.name, mode: f.cert!.mode, waits: dependsOn(f.name).get('hub-a') }).toEqual({ name: f.name, mode: 'ro', waits: 'service_healthy' });
      }
    });
  });

  it('balances TCP on 8443 over exactly the hubs, checking /readyz on their plain health port', () => {
    expect(cfgMount).toEqual({ source: './haproxy.cfg', target: haproxyFile, mode: 'ro' });
    expect(existsSync(join(DOCKER_DIR, 'haproxy.cfg'))).toBe(true);
    const modes = haproxy.flatMap((s) => directive(s.directives, 'mode').map((d) => d[1]));
    expect([...new Set(modes)]).toEqual(['tcp']);
    const [frontend] = section('frontend');
    const bindPort = Number(directive(frontend!.directives, 'bind')[0]![1]!.split(':').at(-1));
    const [hostPort, containerPort] = (balancer.ports as string[])[0]!.split(':').map(Number);
    expect(containerPort).toBe(bindPort);
    // The default hub publishes its own ports on the host; the balancer must not take one of them.
    const hubHostPorts = (services.hub!.ports as string[]).map((p) => Number(p.split(':')[0]));
    expect(hubHostPorts).not.toContain(hostPort);
    const backend = section('backend').find((b) => b.name === directive(frontend!.directives, 'default_backend')[0]![1])!;
    const servers = directive(backend.directives, 'server').map((w) => ({ name: w[1], address: w[2] }));
    const configs = hubs.map(([name, s]) => ({ name, config: configOf(s) }));
    expect(servers).toEqual(configs.map(({ name, config }) => ({ name, address: `${name}:${config.port}` })));
    // Health: GET /readyz (a path the hub serves, on its health port too), 200 expected, on every server.
    expect(directive(backend.directives, 'option')).toContainEqual(['option', 'httpchk', 'GET', '/readyz']);
    expect(HEALTH_PATHS.has('/readyz')).toBe(true);
    expect(directive(backend.directives, 'http-check')).toContainEqual(['http-check', 'expect', 'status', '200']);
    const defaults = directive(backend.directives, 'default-server')[0] ?? [];
    const checkPort = Number(defaults[defaults.indexOf('port') + 1]);
    expect(defaults).toContain('check');
    for (const { name, config } of configs) expect({ name, healthPort: config['http.healthPort'] }).toEqual({ name, healthPort: checkPort });
    for (const [name] of hubs) expect({ name, waits: dependsOn('balancer').get(name) }).toEqual({ name, waits: 'service_healthy' });
  });

  it("lets each hub take the whole fleet from the balancer's one address", () => {
    const maxconn = Number(directive(section('global')[0]!.directives, 'maxconn')[0]![1]);
    for (const [name, s] of hubs) {
      const c = configOf(s);
      expect({ name, perAddress: c['http.maxConnectionsPerAddress'] >= maxconn }).toEqual({ name, perAddress: true });
    }
  });

  it("runs the fleet through the balancer with flags the simulator accepts and hub-a's admin token", () => {
    const fleet = services['scale-fleet']!;
    const [shell, dashC, script] = fleet.command as string[];
    expect([shell, dashC]).toEqual(['sh', '-c']);
    const { argv, catFiles } = execArgv(script!, 'ha1_token');
    expect(argv.slice(0, 2)).toEqual(['node', 'dist/device-sim/cli.js']);
    const args = parseSimArgs(argv.slice(2));
    const bindPort = Number(directive(section('frontend')[0]!.directives, 'bind')[0]![1]!.split(':').at(-1));
    expect(args.hubs.map((h) => new URL(h).host)).toEqual([`balancer:${bindPort}`]);
    expect({ provision: args.provision, insecure: args.insecure }).toEqual({ provision: true, insecure: true });
    expect(dependsOn('scale-fleet').has('balancer')).toBe(true);
    // The token file is the admin.token in hub-a's data directory, mounted read-only.
    const hubA = configOf(services['hub-a']!);
    const tokenMount = mounts(fleet).find((m) => catFiles[0]!.startsWith(`${m.target}/`))!;
    expect(tokenMount.mode).toBe('ro');
    expect(mounts(services['hub-a']!).find((m) => m.target === hubA.dataDir)?.source).toBe(tokenMount.source);
    expect(posix.relative(tokenMount.target, catFiles[0]!)).toBe('admin.token');
    // Its credentials and state go to a volume of its own, where the image made /home/node/sim writable.
    const state = mounts(fleet).find((m) => m.target === '/home/node/sim')!;
    expect(state.source).not.toBe(mounts(services.fleet!).find((m) => m.target === '/home/node/sim')!.source);
    expect(args.credentials?.startsWith(`${state.target}/`)).toBe(true);
  });

  it('is documented in the header with the command that starts it', () => {
    const header = read('docker/compose.yaml').split('\nservices:')[0]!;
    expect(header).toContain(`docker compose -f docker/compose.yaml --profile ${PROFILE} up`);
    for (const name of ['hub-a', 'hub-b', 'PostgreSQL', 'Mosquitto', 'HAProxy']) expect(header).toContain(name);
  });
});

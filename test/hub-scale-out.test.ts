// Scale-out (issue #16 section 3): three hub processes on one PostgreSQL and one Mosquitto, a fleet spread
// over them with every hub in each device's list [FP-10.8]. Hub A is SIGKILLed and hub C is partitioned from
// PostgreSQL (a forwarder between it and the server stops moving bytes) while the fleet streams and commands
// go to devices through hub B's API. Afterwards every reading the devices generated (their own record) is
// stored exactly once, every command got an answer, the dead hub is offline on the broker (its will), and a
// device that could only reach the dead hub is shown offline.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import pg from 'pg';
import { Fleet, MODELS } from '../device-sim/index.js';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { mosquittoGate, MosquittoServer } from '../hub/mqtt/testing/mqtt-test-kit.js';
import { PgStore } from '../hub/storage/pg/pg-store.js';
import { describePg } from '../hub/storage/testing/pg-cluster.js';
import { eventually } from './support/eventually.js';
import { call } from './support/http.js';
import { freePort, spawnHub } from './support/hub-process.js';
import { TcpPartition } from './support/tcp-partition.js';

const root = mkdtempSync(join(tmpdir(), 'hearth-scaleout-'));
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(root, { recursive: true, force: true });
});

const MQTT_USER = 'hearth';
const MQTT_PASSWORD = 'scale-out-secret';
const DEVICES = 18;

const withMosquitto = mosquittoGate() === 'run' ? describePg : (name: string) => describePg(`${name} (skipped: Mosquitto not installed)`, () => it.skip('needs Mosquitto', () => undefined));

withMosquitto('three hubs on one PostgreSQL and one Mosquitto', (cluster) => {
  it('loses and duplicates nothing when one hub is killed and another is cut off from PostgreSQL; every command is answered', async () => {
    const url = await cluster().createDatabase('scaleout');
    const broker = new MosquittoServer(mkdtempSync(join(root, 'mosq-')), await freePort());
    broker.configure({ [MQTT_USER]: MQTT_PASSWORD });
    await broker.start();
    cleanup.push(() => broker.stop());

    // Devices provisioned once in the shared database; "loner" can reach hub A only.
    const setup = new PgStore({ url, poolSize: 1 });
    await setup.open();
    const models = Object.keys(MODELS);
    const specs = [];
    for (let i = 0; i < DEVICES; i++) {
      const model = models[i % models.length]!;
      const { record, token } = newDeviceCredentials(`so-${i}`, model, model, Date.now());
      await setup.addDevice(record);
      specs.push({ id: record.id, token, model });
    }
    const loner = newDeviceCredentials('loner', 'Loner', models[0]!, Date.now());
    await setup.addDevice(loner.record);
    await setup.close();

    // Hub C reaches PostgreSQL through a forwarder the test can partition.
    const dbName = new URL(url).pathname.slice(1);
    const forwarder = await TcpPartition.start(join(cluster().dir, `.s.PGSQL.${cluster().port}`));
    cleanup.push(() => forwarder.close());
    const urlC = `postgres://postgres@127.0.0.1:${forwarder.port}/${dbName}`;

    const ports = { a: await freePort(), b: await freePort(), c: await freePort() };
    const dirs = { a: join(root, 'a'), b: join(root, 'b'), c: join(root, 'c') };
    const common = ['--mqtt-url', `mqtt://127.0.0.1:${broker.port}`, '--mqtt-username', MQTT_USER, '--mqtt-password', MQTT_PASSWORD, '--devices-heartbeat-ms', '2000', '--devices-command-timeout-ms', '2000'];
    const a = await spawnHub(dirs.a, ports.a, ['--db-url', url, '--hub-id', 'hub-a', ...common]);
    cleanup.push(() => a.proc.kill('SIGKILL'));
    // One certificate for the installation (as behind a load balancer): B and C use A's.
    const tls = ['--tls-cert', join(dirs.a, 'tls', 'hub-cert.pem'), '--tls-key', join(dirs.a, 'tls', 'hub-key.pem')];
    const b = await spawnHub(dirs.b, ports.b, ['--db-url', url, '--hub-id', 'hub-b', ...common, ...tls]);
    cleanup.push(() => b.proc.kill('SIGKILL'));
    const c = await spawnHub(dirs.c, ports.c, ['--db-url', urlC, '--hub-id', 'hub-c', ...common, ...tls]);
    cleanup.push(() => c.proc.kill('SIGKILL'));
    // A hub that ends unasked (not SIGKILLed or SIGTERMed by this test) says why, with the tail of its log.
    const asked = new Set<string>();
    for (const [name, h] of [['a', a], ['b', b], ['c', c]] as const) {
      const tail: string[] = [];
      const keep = (chunk: Buffer) => tail.push(...chunk.toString().split('\n').filter(Boolean).slice(-50)) && tail.splice(0, Math.max(0, tail.length - 50));
      h.proc.stdout!.on('data', keep);
      h.proc.stderr!.on('data', keep);
      h.proc.once('exit', (code, signal) => {
        if (!asked.has(name)) process.stdout.write(`scale-out: hub ${name} exited (${code ?? signal}) unasked:\n${tail.join('\n')}\n`);
      });
    }
    const ca = readFileSync(join(dirs.a, 'tls', 'hub-cert.pem'), 'utf8');
    const adminB = readFileSync(join(dirs.b, 'admin.token'), 'utf8').trim();
    const apiB = (method: string, path: string, body?: unknown) => call(`https://127.0.0.1:${ports.b}`, ca, method, path, { token: adminB, body });

    // What the broker says, retained and live.
    const seen = new Map<string, string>();
    const observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { username: MQTT_USER, password: MQTT_PASSWORD, protocolVersion: 5 });
    cleanup.push(() => observer.endAsync());
    observer.on('message', (topic, payload) => seen.set(topic, payload.toString()));
    await observer.subscribeAsync(['hearth/+/availability', 'hearth/bridge/hubs/+/state', 'hearth/bridge/state']);

    const hubUrls = [ports.a, ports.b, ports.c].map((p) => `wss://127.0.0.1:${p}`);
    const fleet = new Fleet({ hubUrl: hubUrls, devices: specs, rate: 20, seed: 16, ca, recordSent: true, backoff: { baseMs: 50, capMs: 500 } });
    const lonely = new Fleet({ hubUrl: [hubUrls[0]!], devices: [{ id: 'loner', token: loner.token, model: models[0]! }], rate: 1, seed: 3, ca, backoff: { baseMs: 200, capMs: 1000 } });
    cleanup.push(() => fleet.stop({ ackTimeoutMs: 0 }), () => lonely.stop({ ackTimeoutMs: 0 }));
    await fleet.start();
    await lonely.start();
    await fleet.waitConnected();
    await lonely.waitConnected();
    const onHub = (port: number) => fleet.devices.filter((d) => d.state === 'online' && d.hubUrl.endsWith(`:${port}`)).length;
    expect([onHub(ports.a), onHub(ports.b), onHub(ports.c)].every((n) => n > 0)).toBe(true);
    await eventually(() => expect(fleet.stats().acked).toBeGreaterThan(200), 20_000);
    await eventually(() => expect(seen.get('hearth/bridge/hubs/hub-a/state')).toBe('online'));

    // Commands through hub B's API all along, to devices wherever they are; each must get an answer.
    const answers: Array<{ device: string; status: string }> = [];
    let sending = true;
    const commander = (lane: number) => (async () => {
      for (let i = lane; sending; i += 3) {
        const device = fleet.devices[i % DEVICES]!;
        const writable = device.model.capabilities.find((cap) => cap.writable && (cap.valueType === 'bool' || cap.valueType === 'float' || cap.valueType === 'int'));
        if (!writable) continue;
        const value = writable.valueType === 'bool' ? i % 2 === 0 : (writable.min ?? 0) + 1;
        const res = await apiB('POST', `/api/devices/${device.id}/commands`, { command: writable.name, value });
        answers.push({ device: device.id, status: String(res.body.status ?? res.status) });
      }
    })();
    const commanders = [0, 1, 2].map(commander);

    // Hub A dies: its devices go on at B and C, the broker marks it offline (its will), and the loner,
    // which can reach A only, is offline on the broker and in B's API.
    const step = (what: string) => process.stdout.write(`scale-out: ${what}: ${JSON.stringify({ a: onHub(ports.a), b: onHub(ports.b), c: onHub(ports.c), acked: fleet.stats().acked })}\n`);
    step('killing hub A');
    asked.add('a');
    a.proc.kill('SIGKILL');
    await a.exited;
    await eventually(() => expect(seen.get('hearth/bridge/hubs/hub-a/state')).toBe('offline'), 10_000);
    await fleet.waitConnected(DEVICES, 30_000);
    await eventually(() => expect(onHub(ports.a)).toBe(0));
    await eventually(async () => expect((await apiB('GET', '/api/devices/loner')).body.device).toMatchObject({ online: false, hub: null }), 30_000);
    await eventually(() => expect(seen.get('hearth/loner/availability')).toBe('offline'), 10_000);
    expect(seen.get('hearth/bridge/state')).toBe('online'); // B and C still run the installation

    // Hub C loses PostgreSQL: it closes its devices (1013) and refuses new ones; they all end up on B.
    step('partitioning hub C');
    const ackedBefore = fleet.stats().acked;
    forwarder.partition();
    await eventually(() => expect(onHub(ports.c)).toBe(0), 30_000);
    step('C cut off');
    await fleet.waitConnected(DEVICES, 30_000);
    step('all on B');
    expect(onHub(ports.b)).toBe(DEVICES);
    await eventually(() => expect(fleet.stats().acked).toBeGreaterThan(ackedBefore + 100), 20_000);
    forwarder.heal();

    // C takes devices again once PostgreSQL answers; then the fleet stops with everything acknowledged.
    await eventually(async () => expect((await call(`https://127.0.0.1:${ports.c}`, ca, 'GET', '/readyz')).status).toBe(200), 30_000);
    sending = false;
    await Promise.all(commanders);
    const final = await fleet.stop({ ackTimeoutMs: 15_000 });
    expect(final.pendingItems).toBe(0);
    expect(final.drops).toBe(0);
    expect(final.resent).toBeGreaterThan(0);
    expect(final.reconnects).toBeGreaterThan(0);

    // Every command sent meanwhile got an answer: the device's, or offline/timeout from a hub.
    const byStatus: Record<string, number> = {};
    for (const x of answers) byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
    step(`commands answered ${JSON.stringify(byStatus)}`);
    expect(answers.length).toBeGreaterThan(5);
    for (const a of answers) expect(['ok', 'invalid', 'failed', 'unsupported', 'busy', 'offline', 'timeout']).toContain(a.status);
    expect(answers.some((a) => a.status === 'ok')).toBe(true);

    // Exactly once: as many rows per series as readings the devices generated, and the same ones.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    cleanup.push(() => client.end());
    const { rows } = await client.query<{ device_id: string; metric: string; ts: string; num: number | null; txt: string | null }>(
      "SELECT s.device_id, s.metric, r.ts, r.num, r.txt FROM readings r JOIN series s ON s.id = r.series WHERE s.device_id LIKE 'so-%'",
    );
    const stored = new Map<string, string[]>();
    for (const r of rows) {
      const list = stored.get(`${r.device_id}/${r.metric}`) ?? [];
      list.push(`${r.ts}=${r.txt ?? r.num}`);
      stored.set(`${r.device_id}/${r.metric}`, list);
    }
    let total = 0;
    for (const device of fleet.devices) {
      const generated = device.record!.kept().flatMap((f) => f.items);
      for (const cap of device.model.capabilities) {
        if (cap.event) continue;
        const expected = generated
          .filter((item) => item.metric === cap.id)
          .map((item) => `${item.ts}=${item.value.type === 'bool' ? (item.value.value ? 1 : 0) : item.value.value}`)
          .sort();
        const series = `${device.id}/${cap.name}`;
        expect({ series, stored: (stored.get(series) ?? []).sort() }).toEqual({ series, stored: expected });
        total += expected.length;
      }
    }
    expect(total).toBeGreaterThan(500);

    await lonely.stop({ ackTimeoutMs: 0 });
    asked.add('b').add('c');
    b.proc.kill('SIGTERM');
    c.proc.kill('SIGTERM');
    expect(await Promise.all([b.exited, c.exited])).toEqual([0, 0]);
  }, 240_000);
});

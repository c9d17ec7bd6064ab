// AcceptPacer on real loopback sockets: what it starts, holds, refuses, and how its limit follows the lag.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import https from 'node:https';
import { ManualClock } from '../../device-sim/manual-clock.js';
import { eventually } from '../../test/support/eventually.js';
import { startHub } from '../../test/support/hub-harness.js';
import { AcceptPacer, PACER_LAG_HIGH_MS, PACER_LAG_LOW_MS, type AcceptPacerOptions, type PacerRefusal } from './accept-pacer.js';

let server: net.Server;
let port = 0;
/** Where the server hands each accepted socket (the test swaps in a pacer's offer). */
let onSocket: (s: net.Socket) => void = () => undefined;
const clients: net.Socket[] = [];
const accepted: net.Socket[] = [];

beforeAll(async () => {
  server = net.createServer((s) => {
    accepted.push(s);
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const c of [...clients, ...accepted]) c.destroy();
  await new Promise((resolve) => server.close(resolve));
});

interface Rig {
  pacer: AcceptPacer;
  clock: ManualClock;
  started: net.Socket[];
  refused: PacerRefusal[];
  /** Opens `n` client connections, each writing `hello-<i>`, and waits until the server saw them all. */
  connect(n: number): Promise<net.Socket[]>;
}

function rig(opts: Partial<AcceptPacerOptions> = {}): Rig {
  const clock = new ManualClock();
  const started: net.Socket[] = [];
  const refused: PacerRefusal[] = [];
  const pacer = new AcceptPacer({ minHandshakes: 2, maxHandshakes: 8, maxQueued: 100, maxWaitMs: 5000, now: () => clock.now(), timers: clock, onRefused: (r) => refused.push(r), ...opts });
  let seen = 0;
  onSocket = (s) => {
    seen += 1;
    s.on('error', () => undefined);
    pacer.offer(s, (x) => started.push(x));
  };
  return {
    pacer,
    clock,
    started,
    refused,
    async connect(n) {
      const target = seen + n;
      const made: net.Socket[] = [];
      for (let i = 0; i < n; i++) {
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => undefined);
        c.write(`hello-${i}`);
        clients.push(c);
        made.push(c);
        // One at a time, so arrival order is the order made.
        await eventually(() => seen === target - n + i + 1, { what: `connection ${i} accepted` });
      }
      return made;
    },
  };
}

/** The local port of the client end of `server` socket s (its remote port). */
const peerPort = (s: net.Socket) => s.remotePort;

describe('AcceptPacer', () => {
  it('runs at most its limit at once; the rest wait and start in arrival order as slots free', async () => {
    const r = rig();
    const made = await r.connect(5);
    expect(r.started.map(peerPort)).toEqual(made.slice(0, 2).map((c) => c.localPort));
    expect([r.pacer.running, r.pacer.queued]).toEqual([2, 3]);
    r.pacer.handshakeDone(r.started[0]!); // as secureConnection reports it
    expect(r.started.map(peerPort)).toEqual(made.slice(0, 3).map((c) => c.localPort));
    // A failed handshake ends its socket: the slot frees on close as well.
    r.started[1]!.destroy();
    await eventually(() => r.started.length === 4, { what: 'the fourth start' });
    expect(peerPort(r.started[3]!)).toBe(made[3]!.localPort);
    // What a waiting client sent is still there for TLS to read when its turn comes.
    await eventually(() => r.started[3]!.readableLength > 0, { what: 'buffered bytes' });
    expect(String(r.started[3]!.read())).toBe('hello-3');
    r.pacer.stop();
  });

  it('closes at once what arrives past maxQueued, and unserved what waited past maxWaitMs', async () => {
    const r = rig({ minHandshakes: 1, maxHandshakes: 1, maxQueued: 2 });
    const made = await r.connect(4);
    expect([r.pacer.running, r.pacer.queued, r.refused]).toEqual([1, 2, ['queue_full']]);
    await eventually(() => made[3]!.destroyed || made[3]!.readableEnded, { what: 'the fourth client closed' });
    r.clock.advance(5001); // past maxWaitMs for both waiting ones
    r.pacer.handshakeDone(r.started[0]!);
    expect(r.refused).toEqual(['queue_full', 'queue_timeout', 'queue_timeout']);
    expect(r.started).toHaveLength(1);
    expect([r.pacer.running, r.pacer.queued]).toEqual([0, 0]);
    r.pacer.stop();
  });

  it('holds every connection while the hub starts, then serves them in arrival order, their wait counted from the release', async () => {
    const r = rig({ minHandshakes: 2, maxHandshakes: 2 });
    r.pacer.hold();
    const made = await r.connect(4);
    expect([r.started.length, r.pacer.queued, r.clock.pendingDelays()]).toEqual([0, 4, []]); // no probe while held
    r.clock.advance(60_000); // a slow start-up: far past maxWaitMs, and still nobody is refused
    r.pacer.release();
    expect(r.refused).toEqual([]);
    expect(r.started.map(peerPort)).toEqual(made.slice(0, 2).map((c) => c.localPort));
    r.pacer.handshakeDone(r.started[0]!);
    r.pacer.handshakeDone(r.started[1]!);
    expect(r.started.map(peerPort)).toEqual(made.map((c) => c.localPort));
    r.pacer.stop();
  });

  it('closes the connections still waiting when stopped', async () => {
    const r = rig({ minHandshakes: 1, maxHandshakes: 1 });
    const made = await r.connect(3);
    expect(r.pacer.queued).toBe(2);
    r.pacer.stop();
    expect(r.pacer.queued).toBe(0);
    await eventually(() => made.slice(1).every((c) => c.destroyed || c.readableEnded), { what: 'the waiting clients closed' });
    expect(made[0]!.destroyed).toBe(false); // the one in its handshake belongs to the TLS server
  });

  it('grows its limit while the event loop keeps up and shrinks it when it lags, within its bounds', async () => {
    const r = rig({ minHandshakes: 4, maxHandshakes: 6 });
    await r.connect(10);
    expect(r.started).toHaveLength(4);
    r.pacer.adjust(PACER_LAG_LOW_MS); // grows by an eighth, at least 1
    expect([r.pacer.limit, r.started.length]).toEqual([5, 5]);
    r.pacer.adjust(0);
    r.pacer.adjust(0);
    expect([r.pacer.limit, r.started.length]).toEqual([6, 6]); // the ceiling
    r.pacer.adjust(PACER_LAG_HIGH_MS);
    expect(r.pacer.limit).toBe(4); // a quarter off, floored at the minimum; running ones are not cut short
    expect(r.started).toHaveLength(6);
    r.pacer.adjust((PACER_LAG_LOW_MS + PACER_LAG_HIGH_MS) / 2); // in between: holds
    expect(r.pacer.limit).toBe(4);
    r.pacer.adjust(0);
    r.pacer.handshakeTimedOut(); // peers that cannot keep up: a quarter off too
    expect(r.pacer.limit).toBe(4);
    r.pacer.stop();
  });

  it('probes the lag only while connections wait', async () => {
    const r = rig({ minHandshakes: 1, maxHandshakes: 4 });
    await r.connect(1);
    expect(r.clock.pendingDelays()).toEqual([]);
    await r.connect(2);
    expect(r.clock.pendingDelays()).toHaveLength(1);
    r.clock.advanceToNext(); // no lag on a manual clock: the limit grows and both waiting ones start
    expect([r.pacer.limit, r.pacer.queued, r.clock.pendingDelays()]).toEqual([2, 1, [50]]);
    r.clock.advanceToNext();
    expect([r.pacer.queued, r.clock.pendingDelays()]).toEqual([0, []]);
    r.pacer.stop();
  });
});

describe('the HTTPS port under a crowd (real hub)', () => {
  it('every one of 200 simultaneous TLS clients is served, in turn, none refused', async () => {
    const h = await startHub();
    try {
      const agent = new https.Agent({ keepAlive: false, maxSockets: Infinity });
      const statuses = await Promise.all(
        Array.from({ length: 200 }, () =>
          new Promise<number>((resolve, reject) => {
            https.get({ host: '127.0.0.1', port: h.hub.port, path: '/healthz', rejectUnauthorized: false, agent }, (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            }).on('error', reject);
          }),
        ),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(statuses).toHaveLength(200);
      const metrics = await new Promise<string>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: h.hub.port, path: '/metrics', rejectUnauthorized: false, agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      expect(metrics).not.toMatch(/hearth_connections_refused_total\{reason="queue_(full|timeout)"\}/);
    } finally {
      await h.stop();
    }
  });
});

// coalesceWrites on real loopback TCP sockets: the writes of one turn reach the socket's handle in one writev,
// a turn past FLUSH_BYTES goes at once, and bytes written just before end() or destroy() still arrive.
import { afterEach, expect, it } from '@jest/globals';
import net, { type AddressInfo } from 'node:net';
import { eventually } from '../../test/support/eventually.js';
import { coalesceWrites } from './write-coalescer.js';

const open: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A connected pair: `sender` (coalesced, its handle writes counted) and the bytes the peer received. */
async function pair(): Promise<{ sender: net.Socket; handleWrites: () => number; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const server = net.createServer((peer) => {
    open.push(peer);
    peer.on('data', (c: Buffer) => chunks.push(c));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sender = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  open.push(sender);
  await new Promise<void>((resolve) => sender.once('connect', () => resolve()));
  let writes = 0;
  const s = sender as unknown as { _writev: (...a: unknown[]) => void; _write: (...a: unknown[]) => void };
  for (const name of ['_writev', '_write'] as const) {
    const original = s[name].bind(sender);
    s[name] = (...a: unknown[]) => {
      writes += 1;
      original(...a);
    };
  }
  coalesceWrites(sender);
  return { sender, handleWrites: () => writes, received: () => Buffer.concat(chunks) };
}

const packet = (i: number) => Buffer.from(`packet ${String(i).padStart(4, '0')};`);

it('one turn of writes reaches the socket in one writev, in order', async () => {
  const { sender, handleWrites, received } = await pair();
  for (let i = 0; i < 200; i++) sender.write(packet(i));
  expect(handleWrites()).toBe(0);
  const all = Buffer.concat(Array.from({ length: 200 }, (_, i) => packet(i)));
  await eventually(() => received().length === all.length, { timeoutMs: 5000, what: 'every packet at the peer' });
  expect(received().equals(all)).toBe(true);
  expect(handleWrites()).toBe(1);
});

it('a turn past 16 KiB leaves at once, and writableLength counts only what the socket holds', async () => {
  const { sender, handleWrites, received } = await pair();
  const big = Buffer.alloc(17 * 1024, 7);
  sender.write(big);
  expect(handleWrites()).toBe(1);
  expect(sender.writableLength).toBeLessThan(big.length);
  await eventually(() => received().length === big.length, { timeoutMs: 5000, what: 'the large write at the peer' });
});

it.each(['end', 'destroy'] as const)('bytes written just before %s() still arrive', async (close) => {
  const { sender, received } = await pair();
  sender.write(packet(1));
  sender.write(packet(2));
  if (close === 'end') sender.end();
  else sender.destroy();
  const both = Buffer.concat([packet(1), packet(2)]);
  await eventually(() => received().equals(both), { timeoutMs: 5000, what: `both packets at the peer after ${close}()` });
});

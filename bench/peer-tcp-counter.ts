// A counting TCP proxy for "bytes on the wire": clients connect to it instead of the server, it forwards
// both ways and counts every byte at the TCP level (for wss that includes TLS records and handshakes).
import net, { type AddressInfo } from 'node:net';

export interface TcpCounter {
  port: number;
  /** Bytes client -> server and server -> client so far. */
  bytes(): { up: number; down: number };
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0) and forwards each connection to 127.0.0.1:`targetPort`, counting bytes. */
export function startTcpCounter(targetPort: number): Promise<TcpCounter> {
  let up = 0;
  let down = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.once('close', () => sockets.delete(s));
    }
    client.on('data', (d: Buffer) => (up += d.length));
    upstream.on('data', (d: Buffer) => (down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side going away closes the other, as a direct connection would.
    client.once('error', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        bytes: () => ({ up, down }),
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

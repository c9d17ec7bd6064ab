// A TCP forwarder that can be partitioned: between one hub and PostgreSQL's Unix socket, so a test cuts off
// that hub alone. partition() stops moving bytes both ways and connects nothing new, without closing a
// connection, as a network that drops packets does (TCP holds what was sent); heal() moves them again.
import net from 'node:net';

export class TcpPartition {
  readonly #server: net.Server;
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  readonly #waiting: net.Socket[] = [];
  readonly #target: string;
  #cut = false;

  private constructor(target: string) {
    this.#target = target;
    this.#server = net.createServer((client) => (this.#cut ? this.#waiting.push(client) : this.#join(client)));
  }

  /** Listens on 127.0.0.1, port 0, forwarding to the Unix socket (or port) `target`. */
  static async start(target: string): Promise<TcpPartition> {
    const p = new TcpPartition(target);
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    return p;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  partition(): void {
    this.#cut = true;
    for (const [a, b] of this.#pairs) a.pause(), b.pause();
  }

  heal(): void {
    this.#cut = false;
    for (const [a, b] of this.#pairs) a.resume(), b.resume();
    for (const client of this.#waiting.splice(0)) this.#join(client);
  }

  async close(): Promise<void> {
    for (const [a, b] of this.#pairs) a.destroy(), b.destroy();
    for (const c of this.#waiting.splice(0)) c.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #join(client: net.Socket): void {
    const upstream = net.connect(this.#target);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(pair);
    // Paused sockets are not read: what arrives meanwhile waits in the kernel until heal().
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }
}

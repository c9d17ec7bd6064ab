import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttLogger } from './logger.js';
import { Outbox } from './outbox.js';
import type { Publisher } from './publisher.js';

export interface ExternalBrokerOptions {
  /** mqtt://host:port or mqtts://host:port. */
  url: string;
  username?: string;
  password?: string;
  /** PEM CA(s) to trust for mqtts. */
  ca?: string | Buffer;
  /** Default true; false only for self-signed test brokers. */
  rejectUnauthorized?: boolean;
  clientId: string;
  /** Retained offline message the broker publishes if the hub vanishes (the bridge state topic). */
  will: { topic: string; payload: string };
  /** Filters of the topics the hub reads (commands, bridge requests, HA status, canary), subscribed after each connect. */
  subscribeFilters: string[];
  /**
   * Filters of other hubs' device topics (several hubs on this broker), subscribed without this hub's own
   * messages and with their retain flags (MQTT 5 No Local and Retain As Published), to relay them into the
   * embedded broker; none by default.
   */
  peerFilters?: string[];
  /** Wait between reconnect attempts (mqtt.js reconnectPeriod). */
  reconnectPeriodMs: number;
  connectTimeoutMs: number;
  /** 5 (MQTT 5) or 4 (MQTT 3.1.1). */
  protocolVersion: 4 | 5;
  logger: MqttLogger;
  /** After each (re)connect and subscribe: the bridge re-publishes all retained state here. */
  onConnect: () => void;
  /** `retained`: a retained message the broker replayed on subscribe (not a live publish). */
  onMessage: (topic: string, payload: Buffer, source: string, retained: boolean) => void;
}

/** Non-retained messages held at most while the broker's socket is full (see Outbox). */
export const MAX_HELD_LIVE = 10_000;
/** Drops are logged at most this often (with the count since the last line). */
const DROP_WARN_EVERY_MS = 10_000;

/**
 * The hub as a client of an external broker (Mosquitto, EMQX, ...), through mqtt.js. Reconnects by itself;
 * publishes made while disconnected are dropped (QoS 0, queueQoSZero off) because every (re)connect
 * re-publishes the retained tree anyway. While the socket is full (a broker slower than the hub), messages
 * wait in an Outbox, written on 'drain': mqtt.js itself would buffer each and add a 'drain' listener per
 * publish (bench devices100k: 1,001 listeners and a MaxListenersExceededWarning at 8,000 devices).
 */
export class ExternalBroker implements Publisher {
  readonly #opts: ExternalBrokerOptions;
  #client: MqttClient | null = null;
  #connects = 0;
  readonly #outbox = new Outbox(MAX_HELD_LIVE);
  /** The stream a 'drain' listener waits on, if one does. */
  #waiting: NodeJS.EventEmitter | undefined;
  #droppedTotal = 0;
  /** When the last warning of drops was logged, and the total it reported. */
  #warnedAt = { ms: 0, dropped: 0 };

  constructor(opts: ExternalBrokerOptions) {
    this.#opts = opts;
  }

  /** Starts connecting; resolves at once, since the hub must run while the external broker is down. */
  async start(): Promise<void> {
    const o = this.#opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: true,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: o.reconnectPeriodMs,
      // A broker that refuses us (restarting auth backend, credentials fixed later) is retried, not given up on.
      reconnectOnConnackError: true,
      connectTimeout: o.connectTimeoutMs,
      queueQoSZero: false,
      // Subscribed again by hand after each connect, before the state is re-published.
      resubscribe: false,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
    };
    const client = connect(o.url, options);
    this.#client = client;
    client.on('connect', () => {
      this.#connects += 1;
      o.logger.info({ url: redact(o.url), connects: this.#connects }, 'connected to the external MQTT broker');
      const filters: Record<string, { qos: 1; nl?: boolean; rap?: boolean }> = {};
      for (const f of o.subscribeFilters) filters[f] = { qos: 1 };
      for (const f of o.peerFilters ?? []) filters[f] = o.protocolVersion === 5 ? { qos: 1, nl: true, rap: true } : { qos: 1 };
      client.subscribe(filters, (err) => {
        if (err) o.logger.error({ err: err.message }, 'cannot subscribe to the hub\'s topics on the external broker');
        o.onConnect();
      });
    });
    client.on('message', (topic, payload, packet) => o.onMessage(topic, payload, `mqtt-external:${redact(o.url)}`, packet.retain));
    client.on('close', () => {
      this.#droppedTotal += this.#outbox.takeDropped();
      this.#outbox.clear();
      this.#waiting = undefined;
    });
    client.on('offline', () => o.logger.warn({ url: redact(o.url) }, 'external MQTT broker unreachable; reconnecting'));
    client.on('error', (err) => o.logger.warn({ url: redact(o.url), err: err.message }, 'external MQTT broker error'));
  }

  /** Disconnects cleanly (so the broker does not send the will; the bridge publishes offline itself first). */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (!client) return;
    // What waits for a full socket goes out before the disconnect (the bridge's own offline state among it).
    for (let m = this.#outbox.shift(); m && client.connected; m = this.#outbox.shift()) client.publish(m.topic, m.payload, { qos: 0, retain: m.retain });
    await client.endAsync();
  }

  /** True while connected. */
  isConnected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** How many times a connection was established (1 after the first connect). */
  connectCount(): number {
    return this.#connects;
  }

  /** Messages held now for a full socket, and non-retained ones dropped since start (see Outbox). */
  held(): { held: number; dropped: number } {
    return { held: this.#outbox.size, dropped: this.#droppedTotal + this.#outbox.peekDropped() };
  }

  /** Hands the message to mqtt.js, or holds it while the socket is full; resolves at once either way. */
  publish(topic: string, payload: string, retain: boolean): Promise<void> {
    const client = this.#client;
    if (!client || !client.connected) return Promise.resolve();
    if (this.#outbox.size > 0 || client.stream.writableNeedDrain) {
      this.#outbox.put({ topic, payload, retain });
      this.#awaitDrain(client);
    } else {
      client.publish(topic, payload, { qos: 0, retain });
    }
    return Promise.resolve();
  }

  /** One 'drain' listener on the client's stream, however many messages wait. */
  #awaitDrain(client: MqttClient): void {
    if (this.#waiting === client.stream) return;
    const stream = (this.#waiting = client.stream);
    stream.once('drain', () => {
      if (this.#waiting !== stream) return;
      this.#waiting = undefined;
      this.#flush(client);
    });
  }

  #flush(client: MqttClient): void {
    while (client.connected && !client.stream.writableNeedDrain) {
      const m = this.#outbox.shift();
      if (!m) break;
      client.publish(m.topic, m.payload, { qos: 0, retain: m.retain });
    }
    this.#droppedTotal += this.#outbox.takeDropped();
    const now = Date.now();
    if (this.#droppedTotal > this.#warnedAt.dropped && now - this.#warnedAt.ms >= DROP_WARN_EVERY_MS) {
      this.#opts.logger.warn(
        { url: redact(this.#opts.url), dropped: this.#droppedTotal - this.#warnedAt.dropped, droppedTotal: this.#droppedTotal },
        'external MQTT broker is not keeping up: non-retained messages (QoS 0) dropped; retained state keeps its newest value per topic',
      );
      this.#warnedAt = { ms: now, dropped: this.#droppedTotal };
    }
    if (this.#outbox.size > 0 && client.connected) this.#awaitDrain(client);
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return 'invalid-url';
  }
}

import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttLogger } from './logger.js';
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

/**
 * The hub as a client of an external broker (Mosquitto, EMQX, ...), through mqtt.js. Reconnects by itself;
 * publishes made while disconnected are dropped (QoS 0, queueQoSZero off) because every (re)connect
 * re-publishes the retained tree anyway.
 */
export class ExternalBroker implements Publisher {
  readonly #opts: ExternalBrokerOptions;
  #client: MqttClient | null = null;
  #connects = 0;

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
    client.on('offline', () => o.logger.warn({ url: redact(o.url) }, 'external MQTT broker unreachable; reconnecting'));
    client.on('error', (err) => o.logger.warn({ url: redact(o.url), err: err.message }, 'external MQTT broker error'));
  }

  /** Disconnects cleanly (so the broker does not send the will; the bridge publishes offline itself first). */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client) await client.endAsync();
  }

  /** True while connected. */
  isConnected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** How many times a connection was established (1 after the first connect). */
  connectCount(): number {
    return this.#connects;
  }

  publish(topic: string, payload: string, retain: boolean): Promise<void> {
    const client = this.#client;
    if (!client || !client.connected) return Promise.resolve();
    return new Promise((resolve) => {
      client.publish(topic, payload, { qos: 0, retain }, (err) => {
        if (err) this.#opts.logger.debug({ topic, err: err.message }, 'external publish dropped');
        resolve();
      });
    });
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

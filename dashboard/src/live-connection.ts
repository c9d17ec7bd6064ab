// MQTT over WebSocket to the hub's own broker (wss://<host>/mqtt), the only module that knows mqtt.js. It
// signs in as user `session` with the session token, subscribes to the dashboard's topics and hands every
// message on; mqtt.js reconnects by itself, and the retained topics repaint the page after each reconnect.
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Topics } from '../../hub/mqtt/topics.js';
import { liveSubscriptions } from './live-topics.js';

export type LiveStatus = 'connecting' | 'online' | 'offline' | 'refused';

export interface LiveConnectionOptions {
  url: string;
  token: string;
  topics: Topics;
  onMessage: (topic: string, text: string) => void;
  onStatus: (status: LiveStatus, detail: string) => void;
  reconnectMs?: number;
}

/** MQTT user name for session-token sign-in (hub/http/sessions.ts SESSION_MQTT_USER). */
const SESSION_USER = 'session';
// CONNACK codes that no retry will fix: bad user name or password, not authorized.
const REFUSED_CODES = new Set([4, 5, 134, 135]);

export class LiveConnection {
  readonly #opts: LiveConnectionOptions;
  readonly #decoder = new TextDecoder();
  #client: MqttClient | null = null;
  /** Messages received since start (the hub view shows the rate; the bench reads it). */
  messages = 0;

  constructor(opts: LiveConnectionOptions) {
    this.#opts = opts;
  }

  /** The `wss://<host>/mqtt` URL of the page's own hub. */
  static urlFor(location: Location): string {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
  }

  start(): void {
    const o = this.#opts;
    o.onStatus('connecting', '');
    const client = mqtt.connect(o.url, {
      username: SESSION_USER,
      password: o.token,
      clientId: `hearth-dashboard-${Math.random().toString(36).slice(2, 10)}`,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: o.reconnectMs ?? 2000,
      connectTimeout: 10_000,
      // A dead connection is noticed after 1.5 keep-alives; 15 s keeps the banner honest without chatter.
      keepalive: 15,
      resubscribe: true,
    });
    this.#client = client;
    client.on('connect', () => {
      client.subscribe(liveSubscriptions(o.topics), { qos: 0 }, (err) => {
        if (err) o.onStatus('offline', `subscription refused: ${err.message}`);
      });
      o.onStatus('online', '');
    });
    client.on('message', (topic, payload) => {
      this.messages++;
      o.onMessage(topic, this.#decoder.decode(payload));
    });
    client.on('error', (err) => {
      const code = (err as Error & { code?: number }).code;
      if (code !== undefined && REFUSED_CODES.has(code)) {
        client.end(true);
        o.onStatus('refused', err.message);
      }
    });
    client.on('offline', () => o.onStatus('offline', 'connection lost'));
    client.on('reconnect', () => o.onStatus('connecting', ''));
    // The browser knows about a lost network long before a keep-alive times out.
    addEventListener('offline', this.#onNetworkOffline);
    addEventListener('online', this.#onNetworkOnline);
  }

  readonly #onNetworkOffline = () => this.#opts.onStatus('offline', 'network offline');

  readonly #onNetworkOnline = () => {
    const client = this.#client;
    if (!client) return;
    if (client.connected) this.#opts.onStatus('online', '');
    else client.reconnect();
  };

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Publishes a command (QoS 1, so the broker confirms it); false when there is no connection to send it on. */
  publish(topic: string, payload: string): boolean {
    const client = this.#client;
    if (!client?.connected) return false;
    client.publish(topic, payload, { qos: 1, retain: false });
    return true;
  }

  stop(): void {
    removeEventListener('offline', this.#onNetworkOffline);
    removeEventListener('online', this.#onNetworkOnline);
    this.#client?.end(true);
    this.#client = null;
  }
}

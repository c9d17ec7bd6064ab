// The dashboard's composition root: signs in (or resumes the tab's session), then wires the store, the live
// MQTT connection, the command sender and the views, and draws at most once per animation frame.
import type { ApiRole, SessionResponse } from '../../hub/http/api-types.js';
import { Topics, DEFAULT_BASE_TOPIC } from '../../hub/mqtt/topics.js';
import type { JsonValue } from '../../protocol/value-form.js';
import { AccountView } from './account-view.js';
import { ActivityFeed } from './activity-feed.js';
import { ActivityView } from './activity-view.js';
import { openAddDevice } from './add-device-dialog.js';
import { ApiClient, ApiError } from './api-client.js';
import { CommandSender } from './command-sender.js';
import { roomsOf } from './device-groups.js';
import { DeviceStore } from './device-store.js';
import { DeviceView } from './device-view.js';
import { h, setAttr, setText } from './dom.js';
import { FrameScheduler } from './frame-scheduler.js';
import { HomeView } from './home-view.js';
import { HubView } from './hub-view.js';
import { FirmwareView } from './firmware-view.js';
import { LiveConnection, type LiveStatus } from './live-connection.js';
import { applyLiveMessage, parseLiveMessage } from './live-topics.js';
import { parseRoute, routeHash, type Route } from './routes.js';
import { SessionToken } from './session-token.js';
import { SignInView } from './sign-in-view.js';
import { UsersView } from './users-view.js';
import type { View } from './view.js';

/** Relative times ("3 min ago") are redrawn this often. */
const CLOCK_TICK_MS = 15_000;
const SEED_EVENTS_MAX_DEVICES = 200;
const SEED_EVENTS_PER_DEVICE = 20;
/** A first connection slower than this shows the banner too. */
const CONNECT_GRACE_MS = 3000;
/**
 * The session is checked (and the activity feed's refusal counts and, for admins, the hub's log lines
 * fetched) this often: a user removed elsewhere is signed out within this time.
 */
const HEARTBEAT_MS = 3000;

/** Counters the page exposes (window.hearthStats) for the benchmark and for curious people. */
export interface PageStats {
  messages: number;
  renders: number;
}

export class App {
  readonly #root: HTMLElement;
  readonly #tokens = new SessionToken();
  readonly #api = new ApiClient({ token: () => this.#tokens.get(), onUnauthorized: () => this.#signedOut('Your session ended. Sign in again.') });
  readonly #now = () => Date.now();
  #store: DeviceStore | null = null;
  #live: LiveConnection | null = null;
  #sender: CommandSender | null = null;
  #scheduler: FrameScheduler | null = null;
  #view: View | null = null;
  #main: HTMLElement | null = null;
  #banner: HTMLElement | null = null;
  #status: LiveStatus = 'connecting';
  #statusDetail = '';
  #everOnline = false;
  #startedAt = 0;
  #timers: ReturnType<typeof setInterval>[] = [];
  #role: ApiRole = 'viewer';
  #session: SessionResponse | null = null;
  #feed = new ActivityFeed();
  #notice: HTMLElement | null = null;

  constructor(root: HTMLElement) {
    this.#root = root;
  }

  async start(): Promise<void> {
    if (!this.#tokens.get()) return this.#showSignIn('');
    let session: SessionResponse;
    try {
      session = await this.#api.session();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // onUnauthorized showed the form
      return this.#showSignIn(`The hub did not answer: ${(err as Error).message}`);
    }
    await this.#enter(session);
  }

  #showSignIn(notice: string): void {
    const view = new SignInView(this.#api, (answer) => {
      this.#tokens.set(answer.token);
      void this.#enter(answer);
    }, notice);
    document.title = 'Sign in · Hearth';
    this.#root.replaceChildren(view.element);
    view.focus();
  }

  #signedOut(notice: string): void {
    this.#teardown();
    this.#tokens.clear();
    this.#showSignIn(notice);
  }

  async #enter(session: SessionResponse): Promise<void> {
    this.#role = session.role;
    this.#session = session;
    this.#feed = new ActivityFeed();
    const info = await this.#api.hub().catch(() => ({}) as { mqtt?: { baseTopic?: string } });
    const topics = new Topics(info.mqtt?.baseTopic ?? DEFAULT_BASE_TOPIC);
    const scheduler = new FrameScheduler(() => this.#render());
    const store = new DeviceStore(() => scheduler.request());
    const live = new LiveConnection({
      url: LiveConnection.urlFor(location),
      token: this.#tokens.get() ?? '',
      topics,
      onMessage: (topic, text) => this.#onMessage(topics.base, topic, text),
      onStatus: (status, detail) => this.#onStatus(status, detail),
    });
    this.#scheduler = scheduler;
    this.#store = store;
    this.#live = live;
    this.#sender = new CommandSender({ store, api: this.#api, now: this.#now });
    const feed = this.#feed;
    const nameOf = (id: string) => store.get(id)?.meta?.name;
    store.events.on('bridgeEvent', (e) => feed.addBridgeEvent(e, this.#now(), nameOf));
    store.events.on('commandResult', (r) => feed.addCommandResult(r.device, nameOf(r.device) ?? r.device, r.command, r.result, this.#now()));
    this.#startedAt = this.#now();
    (window as unknown as { hearthStats: PageStats }).hearthStats = {
      get messages() {
        return live.messages;
      },
      get renders() {
        return scheduler.runs;
      },
    };

    this.#buildShell(session);
    live.start();
    this.#api.devices().then((devices) => {
      store.setDevices(devices, false);
      void this.#seedEvents(store, devices);
    }, () => {});
    window.addEventListener('hashchange', this.#onHashChange);
    this.#timers.push(setInterval(() => store.touchAll(), CLOCK_TICK_MS));
    this.#timers.push(setInterval(() => void this.#heartbeat(), HEARTBEAT_MS));
    void this.#heartbeat();
    this.#timers.push(setTimeout(() => scheduler.request(), CONNECT_GRACE_MS));
    this.#route(parseRoute(location.hash));
  }

  /**
   * Events are not retained on MQTT, so a tile would show "—" until the next one; the last stored ones fill
   * in. Bounded (a fleet of thousands is a benchmark, not a home) and a few requests at a time.
   */
  async #seedEvents(store: DeviceStore, devices: readonly { id: string; capabilities: { event: boolean }[] }[]): Promise<void> {
    const queue = devices.filter((d) => d.capabilities.some((c) => c.event)).slice(0, SEED_EVENTS_MAX_DEVICES);
    const worker = async () => {
      for (let d = queue.shift(); d && this.#store === store; d = queue.shift()) {
        const events = await this.#api.events(d.id, SEED_EVENTS_PER_DEVICE).catch(() => []);
        store.seedEvents(d.id, events);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }

  /** Ends the page's session when the hub has (user removed); feeds refusal counts and log lines to the activity feed. */
  async #heartbeat(): Promise<void> {
    const feed = this.#feed;
    try {
      await this.#api.session();
      const info = await this.#api.hub();
      if (info.refused) feed.addRefusals(info.refused, this.#now());
      if (this.#role === 'admin') feed.addLogLines((await this.#api.hubLogs()).lines);
    } catch {
      // A 401 signed the page out already (onUnauthorized); anything else is retried on the next beat.
    }
  }

  /** Shows a short message under the header (after a device was revoked, say) until the next page. */
  #say(text: string): void {
    if (!this.#notice) return;
    this.#notice.hidden = text === '';
    setText(this.#notice, text);
  }

  #buildShell(session: SessionResponse): void {
    const signOut = h('button', { type: 'button', class: 'link-button', 'data-action': 'sign-out' }, 'Sign out');
    signOut.addEventListener('click', () => this.#signOutNow());
    this.#banner = h('div', { class: 'banner', role: 'status', hidden: true, 'data-banner': '' });
    this.#main = h('main', { id: 'main', tabindex: '-1' });
    this.#notice = h('p', { class: 'notice', role: 'status', hidden: true, 'data-notice': '' });
    const link = (route: Route, text: string) => h('a', { href: routeHash(route), 'data-nav': route.name }, text);
    const nav = h(
      'nav',
      { 'aria-label': 'Sections' },
      link({ name: 'home' }, 'Devices'),
      link({ name: 'activity' }, 'Activity'),
      link({ name: 'firmware' }, 'Firmware'),
      link({ name: 'hub' }, 'Hub'),
      session.role === 'admin' ? link({ name: 'users' }, 'Users') : null,
    );
    // The header stays one line at any width: the nav scrolls sideways, the user name ellipsizes, and on
    // phones sign-out lives on the account page.
    const header = h(
      'header',
      { class: 'top' },
      h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
      h('a', { class: 'brand', href: routeHash({ name: 'home' }) }, 'Hearth'),
      nav,
      h('a', { class: 'who', href: routeHash({ name: 'account' }), 'data-nav': 'account', title: `${session.username} (${session.role}): account` },
        h('span', { class: 'who-name', 'data-user': session.username }, session.username), h('span', { class: 'role', 'data-role': session.role }, session.role)),
      signOut,
    );
    // The skip link must not change the hash route.
    header.querySelector('.skip')!.addEventListener('click', (e) => {
      e.preventDefault();
      this.#main?.focus();
    });
    this.#root.replaceChildren(header, this.#banner, this.#notice, this.#main);
  }

  #signOutNow(): void {
    void this.#api.signOut().catch(() => {});
    this.#signedOut('');
  }

  readonly #onHashChange = () => this.#route(parseRoute(location.hash));

  #route(route: Route): void {
    const store = this.#store!;
    this.#view?.destroy();
    const canWrite = this.#role !== 'viewer';
    const admin = this.#role === 'admin';
    const api = this.#api;
    const send = (deviceId: string, command: string, value: JsonValue) => this.#sender?.send(deviceId, command, value);
    const requestRender = () => this.#scheduler?.request();
    const rooms = () => roomsOf(store.list().map((e) => ({ id: e.id, name: e.meta!.name, room: e.meta!.room ?? null })));
    if (route.name === 'users' && !admin) route = { name: 'home' };
    const notice = this.#notice?.hidden === false ? this.#notice.textContent : '';
    this.#say('');
    switch (route.name) {
      case 'home':
        this.#view = new HomeView({ store, send, canWrite, now: this.#now, addDevice: admin ? () => openAddDevice(api, rooms(), location.origin) : null });
        break;
      case 'device': {
        const gone = (text: string) => {
          location.hash = routeHash({ name: 'home' });
          this.#say(text);
        };
        this.#view = new DeviceView({ id: route.id, store, api, send, canWrite, now: this.#now, requestRender, admin: admin ? { api, rooms, gone } : null });
        break;
      }
      case 'hub':
        this.#view = new HubView({ api, now: this.#now, liveMessages: () => this.#live?.messages ?? 0 });
        break;
      case 'activity':
        this.#view = new ActivityView({ feed: this.#feed, admin, requestRender });
        break;
      case 'users':
        this.#view = new UsersView({ api, username: this.#session?.username ?? '' });
        break;
      case 'account':
        this.#view = new AccountView({ api, session: this.#session!, signOut: () => this.#signOutNow() });
        break;
      case 'firmware':
        this.#view = new FirmwareView({ api: this.#api, canRollOut: this.#role === 'admin' });
        break;
    }
    // A notice set just before this navigation (a device revoked from its page) belongs to the new page.
    if (notice && route.name === 'home') this.#say(notice);
    for (const link of this.#root.querySelectorAll('.top [data-nav]')) {
      setAttr(link, 'aria-current', (link as HTMLElement).dataset.nav === route.name ? 'page' : null);
    }
    this.#main!.replaceChildren(this.#view.element);
    document.title = `${this.#view.title} · Hearth`;
    this.#view.mounted?.();
    this.#scheduler?.request();
  }

  #onMessage(base: string, topic: string, text: string): void {
    const message = parseLiveMessage(base, topic, text);
    if (this.#store && message) applyLiveMessage(this.#store, message, this.#now());
  }

  #onStatus(status: LiveStatus, detail: string): void {
    this.#status = status;
    this.#statusDetail = detail;
    if (status === 'online') this.#everOnline = true;
    if (status === 'refused') {
      // Refused credentials usually mean the session expired; the API says for sure.
      this.#api.session().catch(() => {});
    }
    this.#scheduler?.request();
  }

  #render(): void {
    const store = this.#store;
    if (!store) return;
    this.#renderBanner(store.bridge);
    const dirty = store.takeDirty();
    this.#view?.render(dirty);
  }

  #renderBanner(bridge: 'online' | 'offline' | null): void {
    const banner = this.#banner;
    if (!banner) return;
    let text = '';
    let kind = '';
    if (this.#status === 'refused') {
      text = `Live updates were refused by the hub (${this.#statusDetail}). Try signing in again.`;
      kind = 'refused';
    } else if (this.#status !== 'online' && (this.#everOnline || this.#now() - this.#startedAt >= CONNECT_GRACE_MS)) {
      text = this.#everOnline ? 'Connection to the hub lost. Reconnecting…' : 'Cannot reach the hub’s live updates. Retrying…';
      kind = 'offline';
    } else if (this.#status === 'online' && bridge === 'offline') {
      text = 'The hub reports its MQTT bridge offline; values may be stale.';
      kind = 'bridge';
    }
    banner.hidden = text === '';
    setText(banner, text);
    setAttr(banner, 'data-banner', kind);
    setAttr(document.documentElement, 'data-live', this.#status);
  }

  #teardown(): void {
    window.removeEventListener('hashchange', this.#onHashChange);
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#view?.destroy();
    this.#view = null;
    this.#live?.stop();
    this.#live = null;
    this.#sender?.stop();
    this.#sender = null;
    this.#scheduler?.stop();
    this.#scheduler = null;
    this.#store = null;
    this.#banner = null;
    this.#main = null;
    this.#notice = null;
    this.#session = null;
  }
}

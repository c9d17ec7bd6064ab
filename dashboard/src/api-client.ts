// The hub's HTTP API as the dashboard uses it: JSON in and out as the API's contract (hub/http/api-types.ts)
// types them, the session token as a bearer token, errors as ApiError carrying the API's stable code. A 401
// on a signed-in call means the session is over.
import type {
  ApiCommandLogEntry,
  ApiDevice,
  ApiEvent,
  CommandRequest,
  CommandResponse,
  CommandsResponse,
  DevicePatchRequest,
  DevicePatchResponse,
  DeviceRemoveResponse,
  DeviceFirmwareResponse,
  DevicesResponse,
  HubLogsResponse,
  HubSamplesResponse,
  PasswordChangeRequest,
  PasswordChangeResponse,
  ProvisionRequest,
  ProvisionResponse,
  RevokeResponse,
  UserAddRequest,
  UserAddResponse,
  UserRemoveResponse,
  UsersResponse,
  EventsResponse,
  FirmwareResponse,
  FirmwareUpdateRequest,
  FirmwareUpdateResponse,
  HistoryResponse,
  HubInfoResponse,
  SessionResponse,
  SignInRequest,
  SignInResponse,
  SignOutResponse,
} from '../../hub/http/api-types.js';
import type { JsonValue } from '../../protocol/value-form.js';

export class ApiError extends Error {
  readonly status: number;
  /** The API's error code (HUB_ERR_...), or HUB_ERR_NETWORK when no answer came. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface ApiClientOptions {
  token: () => string | null;
  /** Called when the hub answers 401 to a request that carried a token. */
  onUnauthorized: () => void;
}

export class ApiClient {
  readonly #opts: ApiClientOptions;

  constructor(opts: ApiClientOptions) {
    this.#opts = opts;
  }

  /** Exchanges credentials for a session; rejects with HUB_ERR_BAD_CREDENTIALS when they are wrong. */
  signIn(username: string, password: string): Promise<SignInResponse> {
    return this.#request('POST', '/api/session', { username, password } satisfies SignInRequest, false);
  }

  session(): Promise<SessionResponse> {
    return this.#request('GET', '/api/session');
  }

  async signOut(): Promise<void> {
    await this.#request<SignOutResponse>('DELETE', '/api/session', undefined, false);
  }

  async devices(): Promise<ApiDevice[]> {
    return (await this.#request<DevicesResponse>('GET', '/api/devices')).devices;
  }

  /** `path` from historyPath(). */
  history(path: string): Promise<HistoryResponse> {
    return this.#request('GET', path);
  }

  async events(deviceId: string, limit = 100): Promise<ApiEvent[]> {
    return (await this.#request<EventsResponse>('GET', `${devicePath(deviceId)}/events?limit=${limit}`)).events;
  }

  async commands(deviceId: string, limit = 50): Promise<ApiCommandLogEntry[]> {
    return (await this.#request<CommandsResponse>('GET', `${devicePath(deviceId)}/commands?limit=${limit}`)).commands;
  }

  hub(): Promise<HubInfoResponse> {
    return this.#request('GET', '/api/hub');
  }

  /** Adds a device (admin); the answer carries its token, shown this once. */
  provision(body: ProvisionRequest): Promise<ProvisionResponse> {
    return this.#request('POST', '/api/devices', body);
  }

  /** Renames a device and/or moves it to a room (null: no room). */
  async patchDevice(id: string, change: DevicePatchRequest): Promise<ApiDevice> {
    return (await this.#request<DevicePatchResponse>('PATCH', devicePath(id), change)).device;
  }

  /** Revokes a device: disconnected at once, refused afterwards; its history stays. */
  async revoke(id: string): Promise<void> {
    await this.#request<RevokeResponse>('DELETE', devicePath(id));
  }

  /** Removes a device and everything stored for it. */
  async removeDevice(id: string): Promise<void> {
    await this.#request<DeviceRemoveResponse>('DELETE', `${devicePath(id)}?remove=true`);
  }

  async users(): Promise<UsersResponse['users']> {
    return (await this.#request<UsersResponse>('GET', '/api/users')).users;
  }

  addUser(body: UserAddRequest): Promise<UserAddResponse> {
    return this.#request('POST', '/api/users', body);
  }

  /** Removes a user; their dashboard sessions end at once. */
  removeUser(name: string): Promise<UserRemoveResponse> {
    return this.#request('DELETE', `/api/users/${encodeURIComponent(name)}`);
  }

  /** Changes the signed-in user's own password. */
  changePassword(name: string, body: PasswordChangeRequest): Promise<PasswordChangeResponse> {
    return this.#request('PUT', `/api/users/${encodeURIComponent(name)}/password`, body);
  }

  /** The hub's status samples of the last hour (after `since`, when given). */
  hubSamples(since?: number): Promise<HubSamplesResponse> {
    return this.#request('GET', `/api/hub/samples${since === undefined ? '' : `?since=${since}`}`);
  }

  /** The hub's newest warn and error log lines (admin). */
  hubLogs(limit = 200): Promise<HubLogsResponse> {
    return this.#request('GET', `/api/hub/logs?limit=${limit}`);
  }

  /** Sends a command over HTTP and waits for its outcome; the hub records it under the signed-in user. */
  sendCommand(deviceId: string, command: string, value: JsonValue): Promise<CommandResponse> {
    return this.#request('POST', `${devicePath(deviceId)}/commands`, { command, value } satisfies CommandRequest, true, true);
  }

  /** Firmware images and the newest updates [FP-14]. */
  firmware(): Promise<FirmwareResponse> {
    return this.#request('GET', '/api/firmware');
  }

  deviceFirmware(deviceId: string, limit = 5): Promise<DeviceFirmwareResponse> {
    return this.#request('GET', `${devicePath(deviceId)}/firmware?limit=${limit}`);
  }

  /** Queues updates of one device or a whole model (admin). */
  startUpdate(request: FirmwareUpdateRequest): Promise<FirmwareUpdateResponse> {
    return this.#request('POST', '/api/firmware/updates', request);
  }

  async #request<T>(method: string, path: string, body?: unknown, signedIn = true, outcomeOnError = false): Promise<T> {
    const token = this.#opts.token();
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'HUB_ERR_NETWORK', `the hub did not answer (${(err as Error).message})`);
    }
    const data = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    // A command's outcome comes with a non-2xx status (409 offline, 504 timeout) but is still an answer.
    if (res.ok || (outcomeOnError && data && typeof data.status === 'string')) return data as T;
    if (res.status === 401 && signedIn && token) this.#opts.onUnauthorized();
    const code = typeof data?.error === 'string' ? data.error : `HTTP_${res.status}`;
    const message = typeof data?.message === 'string' ? data.message : res.statusText;
    throw new ApiError(res.status, code, message);
  }
}

function devicePath(id: string): string {
  return `/api/devices/${encodeURIComponent(id)}`;
}

// The one secret the browser keeps: the session token, in sessionStorage (gone when the tab closes, never
// shared with other sites). The password is sent once to POST /api/session and not stored anywhere.

const KEY = 'hearth.session';

export class SessionToken {
  readonly #storage: Storage;

  constructor(storage: Storage = sessionStorage) {
    this.#storage = storage;
  }

  get(): string | null {
    return this.#storage.getItem(KEY);
  }

  set(token: string): void {
    this.#storage.setItem(KEY, token);
  }

  clear(): void {
    this.#storage.removeItem(KEY);
  }
}

// The users page (#/users, admin): every user with their role, "Remove…" (confirmed, naming the user; their
// dashboard sessions end at once) and a form to add one with a role and password.
import type { ApiRole, ApiUser } from '../../hub/http/api-types.js';
import type { ApiClient } from './api-client.js';
import type { Dirty } from './device-store.js';
import { confirmAction } from './dialogs.js';
import { h, setText } from './dom.js';
import { formatDateTime } from './format.js';
import type { View } from './view.js';

const ROLE_TEXT: Record<ApiRole, string> = {
  admin: 'admin: everything, including devices and users',
  integration: 'integration: sees everything, sends commands',
  viewer: 'viewer: sees everything, changes nothing',
};

export class UsersView implements View {
  readonly element: HTMLElement;
  readonly title = 'Users';
  readonly #api: ApiClient;
  readonly #self: string;
  readonly #rows: HTMLTableSectionElement;
  readonly #status: HTMLElement;
  #stopped = false;

  constructor(deps: { api: ApiClient; username: string }) {
    this.#api = deps.api;
    this.#self = deps.username;
    this.#rows = h('tbody');
    this.#status = h('p', { class: 'form-status', role: 'status' });
    const name = h('input', { id: 'user-name', name: 'name', required: true, pattern: '[A-Za-z0-9_.\\-]{1,64}', maxlength: 64, autocomplete: 'off' });
    const role = h('select', { id: 'user-role', name: 'role' }, ...(['viewer', 'integration', 'admin'] as const).map((r) => h('option', { value: r }, ROLE_TEXT[r])));
    const password = h('input', { id: 'user-password', name: 'password', type: 'password', required: true, autocomplete: 'new-password' });
    const form = h(
      'form',
      { class: 'form form-row', 'data-form': 'add-user' },
      h('div', { class: 'field' }, h('label', { for: name.id }, 'User name'), name),
      h('div', { class: 'field' }, h('label', { for: role.id }, 'Role'), role),
      h('div', { class: 'field' }, h('label', { for: password.id }, 'Password'), password),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'primary' }, 'Add user')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void (async () => {
        try {
          const { user } = await this.#api.addUser({ name: name.value, password: password.value, role: role.value as ApiRole });
          setText(this.#status, `Added ${user.name} (${user.role}). They sign in with this password, on the dashboard and on MQTT.`);
          form.reset();
          await this.#load();
        } catch (err) {
          setText(this.#status, `Not added: ${(err as Error).message}`);
        }
      })();
    });
    this.element = h(
      'section',
      { class: 'view view-users', 'aria-labelledby': 'users-title' },
      h('h1', { id: 'users-title' }, 'Users'),
      h('section', { class: 'panel', 'aria-labelledby': 'users-list-title' }, h('h2', { id: 'users-list-title' }, 'Who can sign in'),
        h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'users-list-title' }, h('table', { class: 'log', 'data-log': 'users' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col', class: 'col-added' }, 'Added'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          this.#rows))),
      h('section', { class: 'panel', 'aria-labelledby': 'users-add-title' }, h('h2', { id: 'users-add-title' }, 'Add a user'), form, this.#status),
    );
  }

  mounted(): void {
    void this.#load();
  }

  render(_dirty: Dirty): void {}

  destroy(): void {
    this.#stopped = true;
  }

  async #load(): Promise<void> {
    try {
      const users = await this.#api.users();
      if (!this.#stopped) this.#rows.replaceChildren(...users.map((u) => this.#row(u)));
    } catch (err) {
      if (!this.#stopped) this.#rows.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: 4 }, `Users unavailable: ${(err as Error).message}`)));
    }
  }

  #row(u: ApiUser): HTMLTableRowElement {
    let action: HTMLElement;
    if (u.name === this.#self) {
      action = h('span', { class: 'muted' }, 'you');
    } else {
      action = h('button', { type: 'button', class: 'danger', 'data-action': 'remove-user', 'aria-label': `Remove ${u.name}` }, 'Remove…');
      action.addEventListener('click', () => void this.#remove(u));
    }
    return h('tr', { 'data-user-row': u.name }, h('td', {}, u.name), h('td', {}, u.role), h('td', { class: 'col-added' }, h('time', { datetime: new Date(u.createdAt).toISOString() }, formatDateTime(u.createdAt))), h('td', {}, action));
  }

  async #remove(u: ApiUser): Promise<void> {
    const ok = await confirmAction({
      title: `Remove ${u.name}?`,
      message: `${u.name} (${u.role}) can no longer sign in, on the dashboard or on MQTT, and is signed out of every open page now.`,
      confirm: `Remove ${u.name}`,
      danger: true,
    });
    if (!ok) return;
    try {
      const answer = await this.#api.removeUser(u.name);
      setText(this.#status, `Removed ${u.name}; ${answer.sessionsEnded === 1 ? '1 session' : `${answer.sessionsEnded} sessions`} ended.`);
      await this.#load();
    } catch (err) {
      setText(this.#status, `Not removed: ${(err as Error).message}`);
    }
  }
}

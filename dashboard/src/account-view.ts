// The account page (#/account, every role): who is signed in with which role, changing one's own password,
// and signing out (the header's sign-out button is hidden on phones).
import type { SessionResponse } from '../../hub/http/api-types.js';
import type { ApiClient } from './api-client.js';
import type { Dirty } from './device-store.js';
import { h, setText } from './dom.js';
import type { View } from './view.js';

export class AccountView implements View {
  readonly element: HTMLElement;
  readonly title = 'Account';

  constructor(deps: { api: ApiClient; session: SessionResponse; signOut: () => void }) {
    const { api, session } = deps;
    const status = h('p', { class: 'form-status', role: 'status' });
    const current = h('input', { id: 'pw-current', type: 'password', required: true, autocomplete: 'current-password' });
    const next = h('input', { id: 'pw-new', type: 'password', required: true, autocomplete: 'new-password' });
    const again = h('input', { id: 'pw-again', type: 'password', required: true, autocomplete: 'new-password' });
    const form = h(
      'form',
      { class: 'form', 'data-form': 'password' },
      // A hidden user name lets password managers file the new password under the right account.
      h('input', { type: 'text', name: 'username', value: session.username, autocomplete: 'username', hidden: true }),
      h('div', { class: 'field' }, h('label', { for: current.id }, 'Current password'), current),
      h('div', { class: 'field' }, h('label', { for: next.id }, 'New password'), next),
      h('div', { class: 'field' }, h('label', { for: again.id }, 'New password again'), again),
      h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (next.value !== again.value) return setText(status, 'The new passwords differ.');
      void api.changePassword(session.username, { currentPassword: current.value, password: next.value }).then(
        () => {
          form.reset();
          setText(status, 'Password changed. Use it next time you sign in, here and on MQTT.');
        },
        (err: Error) => setText(status, `Not changed: ${err.message}`),
      );
    });
    const signOut = h('button', { type: 'button', 'data-action': 'sign-out-account' }, 'Sign out');
    signOut.addEventListener('click', deps.signOut);
    this.element = h(
      'section',
      { class: 'view view-account', 'aria-labelledby': 'account-title' },
      h('h1', { id: 'account-title' }, 'Account'),
      h('section', { class: 'panel' }, h('p', {}, 'Signed in as ', h('strong', {}, session.username), ` (${session.role}).`), signOut),
      h('section', { class: 'panel', 'aria-labelledby': 'pw-title' }, h('h2', { id: 'pw-title' }, 'Change your password'), form, status),
    );
  }

  render(_dirty: Dirty): void {}

  destroy(): void {}
}

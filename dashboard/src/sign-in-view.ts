// The sign-in form. The password goes once to POST /api/session and is cleared from the form; only the
// session token it returns is kept.
import type { SignInResponse } from '../../hub/http/api-types.js';
import { ApiError, type ApiClient } from './api-client.js';
import { h, setText } from './dom.js';

export class SignInView {
  readonly element: HTMLElement;
  readonly #form: HTMLFormElement;

  constructor(api: ApiClient, onSignedIn: (answer: SignInResponse) => void, notice = '') {
    const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false' });
    const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 });
    const error = h('p', { class: 'error', role: 'alert', 'data-error': '' }, notice);
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
    this.#form = h(
      'form',
      { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
      h('h1', { id: 'sign-in-title' }, 'Sign in to Hearth'),
      h('div', { class: 'field' }, h('label', { for: 'username' }, 'User name'), username),
      h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
      error,
      submit,
    );
    this.#form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit.disabled = true;
      setText(error, '');
      error.removeAttribute('data-code');
      api.signIn(username.value.trim(), password.value).then(
        (answer) => {
          password.value = '';
          onSignedIn(answer);
        },
        (err: unknown) => {
          submit.disabled = false;
          const code = err instanceof ApiError ? err.code : 'HUB_ERR_NETWORK';
          error.setAttribute('data-code', code);
          setText(error, code === 'HUB_ERR_BAD_CREDENTIALS' ? 'Wrong user name or password.' : `Could not sign in: ${(err as Error).message}`);
          password.select();
        },
      );
    });
    this.element = h('main', { class: 'sign-in-page' }, this.#form);
  }

  focus(): void {
    (this.#form.querySelector('input') as HTMLInputElement | null)?.focus();
  }
}

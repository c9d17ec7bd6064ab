// Modal dialogs on the native <dialog> element: focus moves into it, Escape cancels, focus returns to the
// opener, and the page behind is inert. A confirmation names what it acts on.
import { h } from './dom.js';

export interface ConfirmOptions {
  title: string;
  message: string;
  /** The confirming button's label: the verb ("Revoke", "Remove"). */
  confirm: string;
  danger?: boolean;
}

/** Asks the user to confirm; resolves true only when they pressed the confirming button. */
export function confirmAction(opts: ConfirmOptions): Promise<boolean> {
  const dialog = openDialog(opts.title, [h('p', { class: 'dialog-message' }, opts.message)]);
  const cancel = h('button', { type: 'button', 'data-action': 'cancel' }, 'Cancel');
  const ok = h('button', { type: 'button', class: opts.danger ? 'danger' : 'primary', 'data-action': 'confirm' }, opts.confirm);
  dialog.body.append(h('div', { class: 'dialog-actions' }, cancel, ok));
  cancel.focus();
  return new Promise((resolve) => {
    let answer = false;
    cancel.addEventListener('click', () => dialog.close());
    ok.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    dialog.onClose(() => resolve(answer));
  });
}

export interface OpenDialog {
  readonly element: HTMLDialogElement;
  /** Where the content goes (below the title). */
  readonly body: HTMLElement;
  close(): void;
  onClose(fn: () => void): void;
}

let nextDialog = 0;

/** Opens a modal dialog titled `title` holding `content`; it removes itself from the page when closed. */
export function openDialog(title: string, content: HTMLElement[]): OpenDialog {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const id = `dialog-${++nextDialog}`;
  const body = h('div', { class: 'dialog-body' }, ...content);
  const element = h('dialog', { class: 'dialog', 'aria-labelledby': id }, h('h2', { id }, title), body);
  document.body.append(element);
  element.showModal();
  const listeners: (() => void)[] = [];
  element.addEventListener('close', () => {
    element.remove();
    for (const fn of listeners) fn();
    if (opener?.isConnected) opener.focus();
  });
  return { element, body, close: () => element.close(), onClose: (fn) => listeners.push(fn) };
}

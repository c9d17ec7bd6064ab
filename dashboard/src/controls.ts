// One control per writable capability: a switch for booleans, a slider (or number field) for numbers, a select
// for enums, a text field for strings. Each is a real form element with a label, shows the device's reported
// value, "sending…" while its command is pending, and the failure reason when it fails. Updates happen in
// place, so a control keeps focus while values stream in.
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import type { JsonValue } from '../../protocol/value-form.js';
import type { ControlSpec } from './capabilities.js';
import type { CommandState, DeviceEntry } from './device-store.js';
import { h, setAttr, setText } from './dom.js';
import { formatValue, metricLabel } from './format.js';

/** How long a slider waits after the last change (keyboard arrows fire one per press) before sending. */
const SETTLE_MS = 350;

export interface ControlDeps {
  send: (command: string, value: JsonValue) => void;
  /** Viewers may look but not command (the broker would refuse their publish). */
  canWrite: boolean;
}

export interface Control {
  readonly element: HTMLElement;
  /** Redraws from the store; `blocked` (the device is offline: "Offline since 19:31") disables the control and says why. */
  update(entry: DeviceEntry, blocked: string | null): void;
}

let nextId = 0;

/** Builds the control `spec` for capability `cap`. */
export function createControl(cap: CapabilitySummary, spec: ControlSpec, deps: ControlDeps): Control {
  const id = `ctl-${++nextId}`;
  const status = h('span', { class: 'control-status', 'aria-live': 'polite' });
  const label = metricLabel(cap.name);
  switch (spec.kind) {
    case 'toggle':
      return toggle(cap, label, status, deps);
    case 'slider':
    case 'stepper':
      return number(cap, spec, id, label, status, deps);
    case 'select':
      return select(cap, spec.options, id, label, status, deps);
    case 'text':
      return text(cap, id, label, status, deps);
  }
}

function toggle(cap: CapabilitySummary, label: string, status: HTMLElement, deps: ControlDeps): Control {
  let current = false;
  let pending = false;
  const button = h(
    'button',
    { type: 'button', role: 'switch', class: 'switch', 'aria-checked': 'false', 'data-command': cap.name, disabled: !deps.canWrite },
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', { class: 'switch-label' }, label),
  );
  // Not disabled while pending: a disabled button drops keyboard focus; repeated presses are ignored instead.
  button.addEventListener('click', () => {
    if (!pending) deps.send(cap.name, !current);
  });
  const element = h('div', { class: 'control control-toggle', 'data-control': cap.name }, button, status);
  return {
    element,
    update(entry, blocked) {
      current = entry.state[cap.name]?.value === true;
      setAttr(button, 'aria-checked', String(current));
      button.disabled = !deps.canWrite || blocked !== null;
      showCommand(element, status, entry.commands[cap.name], cap, blocked);
      pending = entry.commands[cap.name]?.status === 'pending';
    },
  };
}

function number(cap: CapabilitySummary, spec: Extract<ControlSpec, { kind: 'slider' | 'stepper' }>, id: string, label: string, status: HTMLElement, deps: ControlDeps): Control {
  const slider = spec.kind === 'slider';
  const output = h('output', { for: id, class: 'control-value' }, '—');
  const input = h('input', {
    id,
    type: slider ? 'range' : 'number',
    step: spec.step,
    min: slider ? spec.min : cap.min,
    max: slider ? spec.max : cap.max,
    'data-command': cap.name,
    disabled: !deps.canWrite,
  });
  let editing = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const commit = () => {
    timer = null;
    editing = false;
    const value = Number(input.value);
    if (input.value !== '' && Number.isFinite(value)) deps.send(cap.name, value);
  };
  input.addEventListener('input', () => {
    editing = true;
    setText(output, formatValue(Number(input.value), cap));
  });
  input.addEventListener('change', () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(commit, slider ? SETTLE_MS : 0);
  });
  const element = h(
    'div',
    { class: `control control-${spec.kind}`, 'data-control': cap.name },
    h('label', { for: id }, h('span', {}, label), ' ', output),
    input,
    status,
  );
  return {
    element,
    update(entry, blocked) {
      const state = entry.commands[cap.name];
      const reported = entry.state[cap.name]?.value;
      input.disabled = !deps.canWrite || blocked !== null;
      // A failed command rolls the control back to what the device reports (editing ends with the failure).
      if (state?.status === 'failed') editing = false;
      // While the user drags or the command is in flight, the control shows the wanted value, not the old one.
      if (!editing && state?.status !== 'pending' && typeof reported === 'number') {
        if (input.value !== String(reported)) input.value = String(reported);
        setText(output, formatValue(reported, cap));
      }
      showCommand(element, status, state, cap, blocked);
    },
  };
}

function select(cap: CapabilitySummary, options: string[], id: string, label: string, status: HTMLElement, deps: ControlDeps): Control {
  // Until the device reports a value the select shows a dash rather than pretending the first option is set.
  const unknown = h('option', { value: '', disabled: true, hidden: true }, '—');
  const input = h('select', { id, 'data-command': cap.name, disabled: !deps.canWrite }, unknown, ...options.map((o) => h('option', { value: o }, o)));
  input.value = '';
  input.addEventListener('change', () => deps.send(cap.name, input.value));
  const element = h('div', { class: 'control control-select', 'data-control': cap.name }, h('label', { for: id }, label), input, status);
  return {
    element,
    update(entry, blocked) {
      const state = entry.commands[cap.name];
      const reported = entry.state[cap.name]?.value;
      const name = typeof reported === 'number' ? options[reported] : reported;
      input.disabled = !deps.canWrite || blocked !== null;
      if (state?.status !== 'pending' && typeof name === 'string' && input.value !== name) input.value = name;
      showCommand(element, status, state, cap, blocked);
    },
  };
}

function text(cap: CapabilitySummary, id: string, label: string, status: HTMLElement, deps: ControlDeps): Control {
  const input = h('input', { id, type: 'text', maxlength: 255, 'data-command': cap.name, disabled: !deps.canWrite });
  const submit = h('button', { type: 'submit', disabled: !deps.canWrite }, 'Set');
  const form = h('form', { class: 'control-inline' }, input, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    deps.send(cap.name, input.value);
  });
  const element = h('div', { class: 'control control-text', 'data-control': cap.name }, h('label', { for: id }, label), form, status);
  return {
    element,
    update(entry, blocked) {
      const reported = entry.state[cap.name]?.value;
      input.disabled = submit.disabled = !deps.canWrite || blocked !== null;
      const failed = entry.commands[cap.name]?.status === 'failed';
      if ((failed || document.activeElement !== input) && typeof reported === 'string' && input.value !== reported) input.value = reported;
      showCommand(element, status, entry.commands[cap.name], cap, blocked);
    },
  };
}

/** Pending: "Sending…"; failed: the reason (announced); otherwise nothing (the tile says once why controls are disabled). */
function showCommand(element: HTMLElement, status: HTMLElement, state: CommandState | undefined, cap: CapabilitySummary, blocked: string | null): void {
  const kind = state?.status ?? 'idle';
  setAttr(element, 'data-blocked', blocked === null ? null : 'offline');
  setAttr(element, 'data-command-status', kind);
  setAttr(element, 'aria-busy', kind === 'pending' ? 'true' : null);
  if (state?.status === 'pending') setText(status, `Sending ${formatValue(state.value, cap)}…`);
  else if (state?.status === 'failed') setText(status, `Not done: ${state.reason}`);
  else setText(status, '');
  setAttr(status, 'role', state?.status === 'failed' ? 'alert' : null);
}

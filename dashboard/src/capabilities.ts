// What a tile and a device view show for a device's capabilities: which values, which controls, which charts.
import type { BridgeDevice, CapabilitySummary } from '../../hub/mqtt/topics.js';

export type ControlSpec =
  | { kind: 'toggle' }
  | { kind: 'slider'; min: number; max: number; step: number }
  | { kind: 'stepper'; step: number }
  | { kind: 'select'; options: string[] }
  | { kind: 'text' };

/** Metrics a tile lists as values, at most this many (the device view shows all). */
export const TILE_VALUES = 4;

/** The control for a writable capability: toggle (bool), slider (bounded number), stepper, select (enum), text. */
export function controlFor(cap: CapabilitySummary): ControlSpec | null {
  if (!cap.writable) return null;
  switch (cap.valueType) {
    case 'bool':
      return { kind: 'toggle' };
    case 'int':
    case 'float':
      if (cap.min !== undefined && cap.max !== undefined && cap.max > cap.min) {
        return { kind: 'slider', min: cap.min, max: cap.max, step: sliderStep(cap.valueType, cap.max - cap.min) };
      }
      return { kind: 'stepper', step: cap.valueType === 'int' ? 1 : 0.1 };
    case 'enum':
      return { kind: 'select', options: cap.options ?? [] };
    case 'string':
      return { kind: 'text' };
  }
}

/** A slider step giving about 100 positions (at most ~1000 for integers), on a 1-2-5 grid. */
export function sliderStep(valueType: 'int' | 'float', range: number): number {
  if (valueType === 'int') return range <= 1000 ? 1 : niceStep(range / 1000);
  return niceStep(range / 100);
}

/** The smallest of 1, 2, 5 times a power of ten that is at least `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) {
    const step = m * power;
    // Rounded so that 0.1 * 3 style float noise does not leak into the step.
    if (step >= raw * (1 - 1e-9)) return Number(step.toPrecision(12));
  }
  return 10 * power;
}

/** The battery level: named `battery` or of device class battery. */
export function isBattery(cap: CapabilitySummary): boolean {
  return cap.name === 'battery' || cap.deviceClass === 'battery';
}

/** Int and float capabilities, the ones a chart can draw. */
export function isNumeric(cap: CapabilitySummary): boolean {
  return cap.valueType === 'int' || cap.valueType === 'float';
}

/** How a tile lays out a device: read-only values (events too), the battery, and the controls. */
export function tileLayout(device: Pick<BridgeDevice, 'capabilities'>): {
  values: CapabilitySummary[];
  battery: CapabilitySummary | null;
  controls: CapabilitySummary[];
} {
  const battery = device.capabilities.find((c) => isBattery(c) && !c.writable) ?? null;
  const controls = device.capabilities.filter((c) => controlFor(c) !== null);
  const values = device.capabilities.filter((c) => !c.writable && c !== battery).slice(0, TILE_VALUES);
  return { values, battery, controls };
}

/** Metrics that get a chart: numeric readings (writable ones too, such as a setpoint), not events. */
export function chartMetrics(device: Pick<BridgeDevice, 'capabilities'>): CapabilitySummary[] {
  return device.capabilities.filter((c) => isNumeric(c) && !c.event);
}

/** Metrics drawn as state timelines (on/off bands): booleans and enums that are states, not events. */
export function timelineMetrics(device: Pick<BridgeDevice, 'capabilities'>): CapabilitySummary[] {
  return device.capabilities.filter((c) => (c.valueType === 'bool' || c.valueType === 'enum') && !c.event);
}

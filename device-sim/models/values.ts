// Helpers the models share: typed value constructors, quantisation to what real sensors report, the
// daily curve and the validation of command values against a capability.
import type { Capability, Value } from '../../protocol/index.js';

const DAY_MS = 86_400_000;

/** A float value. */
export const float = (value: number): Value => ({ type: 'float', value });
/** An int value. */
export const int = (value: number): Value => ({ type: 'int', value });
/** A bool value. */
export const bool = (value: boolean): Value => ({ type: 'bool', value });
/** An enum value (index into the capability's options). */
export const enumValue = (value: number): Value => ({ type: 'enum', value });

/**
 * Rounds to a multiple of `step` (a power of two, like the 1/16 °C of a DS18B20) and clamps to [min, max].
 * Binary steps keep the value exact in float32, so it travels in 4 bytes instead of 8 [FP-5.2].
 */
export function quantize(x: number, step: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(x / step) * step));
}

/** Hour of the day in [0, 24) at epoch-ms `now` (UTC: a simulated house lives on UTC). */
export function hourOfDay(now: number): number {
  return (((now % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
}

/** A smooth daily wave in [-1, 1] peaking at `peakHour`. */
export function dailyWave(now: number, peakHour: number): number {
  return Math.cos((2 * Math.PI * (hourOfDay(now) - peakHour)) / 24);
}

/** How busy a home is at this hour, 0..1: low at night, peaks in the morning and the evening. */
export function occupancy(now: number): number {
  const h = hourOfDay(now);
  const bump = (centre: number, width: number): number => Math.exp(-(((h - centre) / width) ** 2));
  return Math.min(1, 0.05 + 0.6 * bump(7.5, 1.2) + 0.35 * bump(13, 2) + 0.9 * bump(19.5, 2.2));
}

/** Seconds elapsed between two device times, clamped so a long pause does not explode a simulation. */
export function elapsedSeconds(from: number, to: number): number {
  return Math.min(3600, Math.max(0, (to - from) / 1000));
}

/** Why `value` is not acceptable for `cap` (type or range), or null when it is. */
export function commandValueProblem(cap: Capability, value: Value): string | null {
  if (value.type !== cap.valueType) return `${cap.name} takes a ${cap.valueType}, got a ${value.type}`;
  if (value.type === 'int' || value.type === 'float') {
    if (!Number.isFinite(value.value)) return `${cap.name} takes a finite number`;
    if (value.type === 'int' && !Number.isInteger(value.value)) return `${cap.name} takes an integer`;
    if ((cap.min !== undefined && value.value < cap.min) || (cap.max !== undefined && value.value > cap.max)) {
      return `${cap.name} must be between ${cap.min} and ${cap.max}, got ${value.value}`;
    }
  }
  if (value.type === 'enum') {
    const options = cap.options ?? [];
    if (!Number.isInteger(value.value) || value.value < 0 || value.value >= options.length) {
      return `${cap.name} takes an option index below ${options.length}, got ${value.value}`;
    }
  }
  return null;
}

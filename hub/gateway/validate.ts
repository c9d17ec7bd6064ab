import type { Capability, DataFrame, Value } from '../../protocol/types.js';

/** Why a data frame does not fit the device's declared capabilities [FP-7.5] [FP-7.6], or null when it fits. */
export function capabilityProblem(frame: DataFrame, capability: (id: number) => Capability | undefined): string | null {
  switch (frame.type) {
    case 'telemetry':
      for (const r of frame.readings) {
        const problem = valueProblem(capability(r.metric), r.metric, r.value, false);
        if (problem) return problem;
      }
      return null;
    case 'batch':
      for (const s of frame.samples) {
        const problem = valueProblem(capability(s.metric), s.metric, s.value, false);
        if (problem) return problem;
      }
      return null;
    case 'event':
      return valueProblem(capability(frame.metric), frame.metric, frame.value, true);
  }
}

function valueProblem(cap: Capability | undefined, id: number, value: Value, asEvent: boolean): string | null {
  if (!cap) return `metric ${id} was not declared in HELLO`;
  if (cap.event !== asEvent) {
    return asEvent ? `metric ${id} (${cap.name}) is not an event capability` : `metric ${id} (${cap.name}) is an event capability: send it as EVENT`;
  }
  if (value.type !== cap.valueType) return `metric ${id} (${cap.name}) is declared ${cap.valueType}, got ${value.type}`;
  if ((value.type === 'int' || value.type === 'float') && cap.min !== undefined && cap.max !== undefined) {
    if (value.value < cap.min || value.value > cap.max) return `metric ${id} (${cap.name}) value ${value.value} is outside ${cap.min}..${cap.max}`;
  }
  if (value.type === 'enum' && value.value >= (cap.options?.length ?? 0)) {
    return `metric ${id} (${cap.name}) enum index ${value.value} has no option`;
  }
  return null;
}

import type { Capability, DataFrame, Value } from '../../protocol/types.js';

/**
 * Resolves the capability of each reading of a data frame into `caps` (frame order: readings, samples, or the
 * one event) and checks it [FP-7.5] [FP-7.6]. Returns why the frame does not fit the device's declared
 * capabilities, or null when it fits; ingest then uses `caps` and never looks them up again.
 */
export function resolveCapabilities(frame: DataFrame, capability: (id: number) => Capability | undefined, caps: Capability[]): string | null {
  caps.length = 0;
  switch (frame.type) {
    case 'telemetry':
      for (const r of frame.readings) {
        const problem = check(capability(r.metric), r.metric, r.value, false, caps);
        if (problem) return problem;
      }
      return null;
    case 'batch':
      for (const s of frame.samples) {
        const problem = check(capability(s.metric), s.metric, s.value, false, caps);
        if (problem) return problem;
      }
      return null;
    case 'event':
      return check(capability(frame.metric), frame.metric, frame.value, true, caps);
  }
}

function check(cap: Capability | undefined, id: number, value: Value, asEvent: boolean, caps: Capability[]): string | null {
  const problem = valueProblem(cap, id, value, asEvent);
  if (problem === null) caps.push(cap!);
  return problem;
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

/** What one device did, cumulatively; a fleet sums them. */
export interface DeviceCounters {
  /** Readings and events the model produced. */
  generated: number;
  /** Data frames numbered. */
  frames: number;
  /** Data frame sends, resends included. */
  sent: number;
  resent: number;
  /** Data frames covered by an ACK (or by WELCOME.nextSeq). */
  acked: number;
  /** Frames dropped unacknowledged (past the buffer bounds, or refused by the hub), and the items they held. */
  drops: number;
  droppedItems: number;
  /** Dials, and WELCOMEs after the first one. */
  connects: number;
  reconnects: number;
  /** Upgrades the hub refused with an HTTP status. */
  refusals: number;
  /** Connections ended by the silence watchdog. */
  watchdogTimeouts: number;
  commands: number;
}

/** The counter names, for summing. */
export const COUNTER_KEYS = ['generated', 'frames', 'sent', 'resent', 'acked', 'drops', 'droppedItems', 'connects', 'reconnects', 'refusals', 'watchdogTimeouts', 'commands'] as const satisfies readonly (keyof DeviceCounters)[];

/** All counters at zero. */
export function newDeviceCounters(): DeviceCounters {
  return { generated: 0, frames: 0, sent: 0, resent: 0, acked: 0, drops: 0, droppedItems: 0, connects: 0, reconnects: 0, refusals: 0, watchdogTimeouts: 0, commands: 0 };
}

import type { CommittedEvent, CommittedReading } from '../events.js';
import type { CommitBatch } from '../storage/types.js';
import type { AckChannel } from './ingest-pipeline.js';

/** One group commit in the making: the batch, who is told of it and who is acknowledged after it. */
export interface Pending {
  batch: CommitBatch;
  /** When its oldest frame was accepted (performance.now()). */
  since: number;
  notify: Map<string, { readings: CommittedReading[]; events: CommittedEvent[] }>;
  /** Connections whose frames are in this batch, acknowledged after it commits. */
  ackTo: Set<AckChannel>;
  /** Ownership epoch of each fenced device whose frames are in this batch, as when they were accepted. */
  fence: Map<string, number> | undefined;
}

export function emptyPending(): Pending {
  return { batch: { readings: [], events: [], seqs: new Map(), lastSeen: new Map() }, since: 0, notify: new Map(), ackTo: new Set(), fence: undefined };
}

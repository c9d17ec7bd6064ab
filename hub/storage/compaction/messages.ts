import type { RetentionPolicy, SynchronousMode } from '../types.js';
import type { CompactionSchedule } from './loop.js';
import type { PassResult } from './pass.js';

/** What the compaction worker is started with (its workerData). */
export interface CompactionWorkerInit {
  path: string;
  synchronous: SynchronousMode;
  maxWalBytes: number | undefined;
  retention: Partial<RetentionPolicy>;
  schedule: CompactionSchedule;
  /** WriteGate.buffer, shared with the main thread. */
  gate: SharedArrayBuffer;
}

/** An error as it crosses the thread boundary: the stable code when it has one (StoreError, SqliteError). */
export interface ErrorInfo {
  code: string | undefined;
  message: string;
}

/** Main thread to worker. */
export type ToCompactionWorker = { type: 'run'; id: number } | { type: 'stop' };

/** Worker to main thread. */
export type FromCompactionWorker =
  | { type: 'ready'; backlog: number }
  | { type: 'pass'; result: PassResult; backlog: number }
  | { type: 'ran'; id: number; error: ErrorInfo | undefined }
  | { type: 'retention'; deleted: number }
  | { type: 'error'; error: ErrorInfo }
  | { type: 'stopped' };

/** The ErrorInfo of anything thrown. */
export function errorInfo(err: unknown): ErrorInfo {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: typeof e?.message === 'string' ? e.message : String(err) };
}

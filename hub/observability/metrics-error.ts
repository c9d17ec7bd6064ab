/** Stable codes of the errors MetricsRegistry throws; all of them are programming errors, caught by tests. */
export const METRICS_ERROR_CODES = {
  /** A metric name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`, or a label name outside `[a-zA-Z_][a-zA-Z0-9_]*` or starting with `__`. */
  HUB_ERR_METRIC_NAME: 'invalid metric or label name',
  /** A second metric with the same name, or one whose name collides with a histogram's `_bucket`/`_sum`/`_count`. */
  HUB_ERR_METRIC_DUPLICATE: 'metric name already registered',
  /** inc()/observe() with labels other than the declared label names, or a duplicated label name. */
  HUB_ERR_METRIC_LABELS: 'labels do not match the declared label names',
  /** Histogram buckets empty, not finite or not strictly increasing. */
  HUB_ERR_METRIC_BUCKETS: 'invalid histogram buckets',
  /** A counter increased by a negative or non-finite amount, or a histogram observing NaN. */
  HUB_ERR_METRIC_VALUE: 'invalid metric value',
} as const;
export type MetricsErrorCode = keyof typeof METRICS_ERROR_CODES;

/** An error with a stable `code`, for callers and tests to branch on without parsing messages. */
export class MetricsError extends Error {
  readonly code: MetricsErrorCode;

  constructor(code: MetricsErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'MetricsError';
    this.code = code;
  }
}

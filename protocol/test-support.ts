import { ProtocolError } from './errors.js';

/** Test support: the ProtocolError code `fn` throws, or a description of what happened instead. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `not a ProtocolError: ${String(err)}`;
  }
  return 'nothing thrown';
}

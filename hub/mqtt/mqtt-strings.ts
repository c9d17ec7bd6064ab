import { isUtf8 } from 'node:buffer';

// The string rules of MQTT 3.1.1 §1.5.3 / 5.0 §1.5.4 and the topic rules of §4.7, checked on the decoded
// strings the parser hands over. Only a string that decoded to U+FFFD is looked at again in its raw bytes,
// so a well-formed topic costs two indexOf and no allocation.

const REPLACEMENT = '\uFFFD';
const NUL = '\u0000';
const SLASH = 47;
const PLUS = 43;
const HASH = 35;

/** Where a decoded string's bytes can be read again (the parser's buffer list, or a Buffer). */
export interface RawBytes {
  slice(start: number, end: number): Buffer;
}

/**
 * Why a string is refused, or null when it is a well-formed MQTT string [MQTT-1.5.3-1, MQTT-1.5.3-2];
 * `raw` from `start` to `end` holds the bytes it was decoded from, read only when it decoded to U+FFFD.
 */
export function stringProblem(decoded: string, raw: RawBytes, start: number, end: number): 'nul' | 'utf8' | null {
  if (decoded.indexOf(NUL) !== -1) return 'nul';
  // Ill-formed UTF-8 always decodes to U+FFFD; a well-formed U+FFFD (EF BF BD) is allowed.
  if (decoded.indexOf(REPLACEMENT) !== -1 && !isUtf8(raw.slice(start, end))) return 'utf8';
  return null;
}

/** True for a topic filter of §4.7.1: `#` only alone as the last level, `+` only alone in a level, not empty. */
export function validFilter(filter: string): boolean {
  const n = filter.length;
  if (n === 0) return false; // [MQTT-4.7.3-1]
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c !== PLUS && c !== HASH) continue;
    const alone = (i === 0 || filter.charCodeAt(i - 1) === SLASH) && (i === n - 1 || filter.charCodeAt(i + 1) === SLASH);
    if (!alone) return false; // [MQTT-4.7.1-3] '+' fills a level; [MQTT-4.7.1-2] so does '#'
    if (c === HASH && i !== n - 1) return false; // [MQTT-4.7.1-2] '#' is the last character
  }
  return true;
}

/** True for a topic name of §4.7: not empty and without wildcards [MQTT-4.7.3-1, MQTT-3.3.2-2]. */
export function validTopicName(topic: string): boolean {
  return topic.length > 0 && topic.indexOf('+') === -1 && topic.indexOf('#') === -1;
}

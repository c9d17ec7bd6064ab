// MQTT topic filters as the ACL needs them: does a filter match a topic, does one filter cover another.
// Pure; wildcards per MQTT 3.1.1 §4.7 / MQTT 5 §4.7 (identical in both).

/**
 * True when `topic` (a topic name, no wildcards) matches `filter`. `+` and `#` in the first level do not
 * match a topic starting with `$` [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  return filterCovers(filter, topic);
}

/**
 * True when every topic that `inner` (a filter or a topic name) matches is also matched by `outer`:
 * `a/#` covers `a/+/b` and `a`; `a/+` does not cover `a/#`; `#` does not cover `$SYS/#` [MQTT-4.7.2-1].
 */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const s = inner.split('/');
  if (s[0]!.startsWith('$') && (o[0] === '+' || o[0] === '#')) return false;
  for (let i = 0; i < o.length; i++) {
    const level = o[i]!;
    // `#` matches the parent level too [MQTT-4.7.1-2]: `a/#` covers `a`.
    if (level === '#') return true;
    if (i >= s.length) return false;
    const want = s[i]!;
    if (want === '#') return false;
    if (level === '+') continue;
    if (level !== want) return false;
  }
  return o.length === s.length;
}


interface FilterNode {
  /** A filter ends at this level. */
  end: boolean;
  /** A filter continues with `#` here: it matches this level and everything below [MQTT-4.7.1-2]. */
  rest: boolean;
  children: Map<string, FilterNode>;
}

const node = (): FilterNode => ({ end: false, rest: false, children: new Map() });

/**
 * Many topic filters at once, as a trie of levels: matching a topic costs its depth, not the number of
 * filters (aedes' retained lookup builds a matcher per filter and tests every retained topic against each).
 */
export class FilterSet {
  readonly #root = node();
  #size = 0;

  /** Adds a filter (valid per §4.7.1). */
  add(filter: string): void {
    let at = this.#root;
    for (const level of filter.split('/')) {
      if (level === '#') {
        if (!at.rest) this.#size++;
        at.rest = true;
        return;
      }
      let next = at.children.get(level);
      if (!next) at.children.set(level, (next = node()));
      at = next;
    }
    if (!at.end) this.#size++;
    at.end = true;
  }

  /** Distinct filters added. */
  get size(): number {
    return this.#size;
  }

  /** Whether any filter matches `topic`; a filter starting with a wildcard never matches a `$` topic [MQTT-4.7.2-1]. */
  matches(topic: string): boolean {
    const levels = topic.split('/');
    return match(this.#root, levels, 0, topic.charCodeAt(0) === 36);
  }
}

function match(at: FilterNode, levels: string[], i: number, dollar: boolean): boolean {
  const first = i === 0 && dollar;
  if (at.rest && !first) return true;
  if (i === levels.length) return at.end;
  const exact = at.children.get(levels[i]!);
  if (exact && match(exact, levels, i + 1, dollar)) return true;
  const one = first ? undefined : at.children.get('+');
  return one !== undefined && match(one, levels, i + 1, dollar);
}

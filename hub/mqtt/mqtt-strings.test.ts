import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FilterSet } from './filter-set.js';
import { stringProblem, validFilter, validTopicName } from './mqtt-strings.js';

describe('validFilter [MQTT-4.7.1]', () => {
  it.each([
    ['#', true], ['+', true], ['a/#', true], ['a/+/c', true], ['+/+', true], ['/+', true], ['a//b', true], ['$SYS/#', true],
    ['', false], ['a#', false], ['a/#/b', false], ['a/b#', false], ['#/a', false], ['a+', false], ['a/+b', false],
    ['x+/y', false], ['+x/y', false], ['a/b+/c', false], ['++', false], ['##', false],
  ])('%j -> %s', (filter, valid) => expect(validFilter(filter)).toBe(valid));
});

describe('validTopicName [MQTT-3.3.2-2]', () => {
  it.each([['a/b', true], ['a', true], ['', false], ['a/+', false], ['a/#', false], ['a+b', false]])('%j -> %s', (topic, valid) =>
    expect(validTopicName(topic)).toBe(valid),
  );
});

describe('stringProblem [MQTT-1.5.3]', () => {
  const decoded = (raw: Buffer) => stringProblem(raw.toString('utf8'), Buffer.concat([Buffer.from('xx'), raw]), 2, 2 + raw.length);
  it('refuses U+0000 and ill-formed UTF-8; accepts a well-formed U+FFFD', () => {
    expect(decoded(Buffer.from('a\u0000b'))).toBe('nul');
    expect(decoded(Buffer.from([0x61, 0xc3, 0x28]))).toBe('utf8'); // a truncated two-byte sequence
    expect(decoded(Buffer.from([0xed, 0xa0, 0x80]))).toBe('utf8'); // an encoded surrogate, U+D800
    expect(decoded(Buffer.from([0xf0, 0x90, 0x80, 0x61]))).toBe('utf8'); // three bytes of four, as long as one U+FFFD
    expect(decoded(Buffer.from('caf\u00e9 \uFFFD', 'utf8'))).toBeNull();
  });

  it('agrees with a strict UTF-8 decoder on any bytes', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        const raw = Buffer.from(bytes);
        let wellFormed = true;
        try {
          strict.decode(raw);
        } catch {
          wellFormed = false;
        }
        // U+0000 is checked first: an ill-formed string with a NUL byte is refused as 'nul'.
        const expected = raw.includes(0) ? 'nul' : wellFormed ? null : 'utf8';
        expect(decoded(raw)).toBe(expected);
      }),
    );
  });
});

describe('FilterSet', () => {
  const set = (...filters: string[]) => {
    const s = new FilterSet();
    for (const f of filters) s.add(f);
    return s;
  };

  it('matches as §4.7 says: # includes its parent level, + one level, wildcards at the start skip $ topics', () => {
    const s = set('a/#', 'b/+/c', 'd', '+/x');
    expect(['a', 'a/b', 'a/b/c', 'b/1/c', 'd', 'q/x'].map((t) => s.matches(t))).toEqual([true, true, true, true, true, true]);
    expect(['b/c', 'b/1/2/c', 'd/e', 'x', 'ab', '$SYS/x'].map((t) => s.matches(t))).toEqual([false, false, false, false, false, false]);
    expect(set('#').matches('$SYS/broker')).toBe(false);
    expect(set('$SYS/#').matches('$SYS/broker')).toBe(true);
    expect(set('a/#', 'a/#', 'd').size).toBe(2);
  });

  it('agrees with a filter-by-filter matcher on random filters and topics', () => {
    const level = fc.constantFrom('a', 'b', '', '$s');
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
    const filter = fc
      .tuple(fc.array(fc.constantFrom('a', 'b', '', '+', '$s'), { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([l, hash]) => [...l, ...(hash ? ['#'] : [])].join('/'));
    const one = (f: string, t: string): boolean => {
      if (t.startsWith('$') && (f.startsWith('+') || f.startsWith('#'))) return false;
      const fl = f.split('/');
      const tl = t.split('/');
      for (let i = 0; i < fl.length; i++) {
        if (fl[i] === '#') return true;
        if (i >= tl.length) return false;
        if (fl[i] !== '+' && fl[i] !== tl[i]) return false;
      }
      return fl.length === tl.length;
    };
    fc.assert(
      fc.property(fc.array(filter, { minLength: 1, maxLength: 5 }), topic, (filters, t) => {
        expect(set(...filters).matches(t)).toBe(filters.some((f) => one(f, t)));
      }),
    );
  });
});

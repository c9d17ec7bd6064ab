import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { originAllowed } from './origin.js';

describe('originAllowed', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  it.each([
    [{ host: 'hub.local:8443' }, true],
    [{ host: 'hub.local:8443', origin: 'https://hub.local:8443' }, true],
    [{ host: 'Hub.Local:8443', origin: 'https://hub.local:8443' }, true],
    [{ host: 'hub.local:443', origin: 'https://hub.local' }, true],
    [{ host: '[::1]:8443', origin: 'https://[::1]:8443' }, true],
    [{ host: 'hub.local:8443', origin: 'https://evil.example' }, false],
    [{ host: 'hub.local:8443', origin: 'http://hub.local:8443' }, false],
    [{ host: 'hub.local:8443', origin: 'https://hub.local:8444' }, false],
    [{ host: 'hub.local:8443', origin: 'https://hub.local:8443.evil.example' }, false],
    [{ host: 'hub.local:8443', origin: 'null' }, false],
    [{ origin: 'https://hub.local:8443' }, false],
    [{ host: 'hub.local:8443', origin: 'https://hub.local:8443/path' }, false],
  ])('%j -> %s', (headers, allowed) => {
    expect(originAllowed(req(headers))).toBe(allowed);
  });
});

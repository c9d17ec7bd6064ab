import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { bearerToken, requestPath } from './request.js';

describe('requestPath', () => {
  it.each([
    [undefined, '/'],
    ['', '/'],
    ['/api/devices', '/api/devices'],
    ['/api/devices?limit=5', '/api/devices'],
    ['/mqtt#x', '/mqtt'],
    ['/v1/devices/a%20b?x=1#y', '/v1/devices/a%20b'],
    ['?only=query', '/'],
  ])('%j -> %j', (url, path) => {
    expect(requestPath(url)).toBe(path);
  });
});

describe('bearerToken', () => {
  const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;
  it('reads the token of a Bearer header only', () => {
    expect(bearerToken(req('Bearer abc'))).toBe('abc');
    expect(bearerToken(req('Bearer  abc  '))).toBe('abc');
    expect(bearerToken(req('Basic abc'))).toBeNull();
    expect(bearerToken(req('Bearer '))).toBeNull();
    expect(bearerToken(req())).toBeNull();
  });
});

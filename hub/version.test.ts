import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { HUB_VERSION } from './version.js';

describe('HUB_VERSION', () => {
  it("is the root package.json's version (from hub/ under jest; test/cli.test.ts covers dist/hub)", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(HUB_VERSION).toBe(pkg.version);
  });
});

import { afterEach } from '@jest/globals';
import { TestHub, type TestHubOptions } from './test-hub.js';

/**
 * Test support, once per test file: `defer` registers a cleanup run after each test (newest first), and
 * `startHub` starts a TestHub (with `defaults` under its options) that is disposed of the same way.
 */
export function testHubs(defaults: TestHubOptions = {}): {
  defer: (cleanup: () => Promise<unknown> | void) => void;
  startHub: (options?: TestHubOptions) => Promise<TestHub>;
} {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  return {
    defer: (cleanup) => void cleanups.push(cleanup),
    startHub: async (options = {}) => {
      const hub = new TestHub({ ...defaults, ...options });
      cleanups.push(() => hub.dispose());
      await hub.start();
      return hub;
    },
  };
}

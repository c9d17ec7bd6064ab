import { readFileSync } from 'node:fs';

/** The hub's version: the root package.json's, read at run time (from dist/hub or, under jest, hub/). */
export const HUB_VERSION: string = (
  JSON.parse(readFileSync(new URL(import.meta.url.includes('/dist/') ? '../../package.json' : '../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

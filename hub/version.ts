import { readFileSync } from 'node:fs';

// package.json sits at the root: two levels above dist/hub/version.js, one above hub/version.ts (jest).
const PACKAGE_JSON = new URL(import.meta.url.includes('/dist/') ? '../../package.json' : '../package.json', import.meta.url);

/** The hub's version: the root package.json's `version`, read once when this module loads. */
export const HUB_VERSION: string = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;

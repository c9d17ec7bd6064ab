// docs/operations.md and the code must agree: the configuration table row for row with CONFIG_SCHEMA, the
// exit codes with the CLI's, the metrics registry's error codes both ways, and the process metrics.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../hub/cli.js';
import { CONFIG_SCHEMA, envName, flagName } from '../hub/config.js';
import { METRICS_ERROR_CODES } from '../hub/observability/metrics-error.js';
import { MetricsRegistry } from '../hub/observability/metrics-registry.js';
import { registerProcessMetrics } from '../hub/observability/process-metrics.js';

const docs = readFileSync(fileURLToPath(new URL('../docs/operations.md', import.meta.url)), 'utf8');

/** The lines of the `## title` section. */
function section(title: string): string[] {
  const lines = docs.split('\n');
  const start = lines.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`docs/operations.md has no "## ${title}"`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Table rows whose first cell is code: first cell (without backticks) -> cells. */
function rows(lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of lines) {
    const m = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.split(' | ').map((c) => c.trim()));
  }
  return out;
}

describe('docs/operations.md', () => {
  it('tables every configuration key with its variable, flag and default, and no other key', () => {
    const table = rows(section('Configuration'));
    const keys = Object.keys(CONFIG_SCHEMA);
    expect({ missing: keys.filter((k) => !table.has(k)), unknown: [...table.keys()].filter((k) => !(k in CONFIG_SCHEMA)) }).toEqual({ missing: [], unknown: [] });
    for (const [key, field] of Object.entries(CONFIG_SCHEMA)) {
      const [env, flag, dflt, meaning] = table.get(key)!;
      const expected = field.default === null ? 'none' : `\`${String(field.default)}\``;
      expect({ key, env, flag, dflt, hasMeaning: (meaning ?? '').length > 10 }).toEqual({
        key,
        env: `\`${envName(key)}\``,
        flag: `\`--${flagName(key)}\``,
        dflt: expected,
        hasMeaning: true,
      });
    }
  });

  it('names only HEARTH_* variables that the configuration reads', () => {
    // HEARTH_COMMIT is not a setting: the build (hub/build-info.mjs) and hub/build-commit.ts read it.
    const known = new Set([...Object.keys(CONFIG_SCHEMA).map(envName), 'HEARTH_COMMIT']);
    const named = [...new Set([...docs.matchAll(/HEARTH_[A-Z_]+/g)].map((m) => m[0]))];
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });

  it("tables the CLI's exit codes", () => {
    const table = rows(section('The `hearth` command'));
    for (const [name, code] of Object.entries(EXIT)) expect({ name, documented: table.has(String(code)) }).toEqual({ name, documented: true });
  });

  it("tables every metrics registry error code, and no other", () => {
    const inDocs = [...docs.matchAll(/^\| `(HUB_ERR_METRIC_[A-Z_]+)` \|/gm)].map((m) => m[1]!);
    expect(inDocs.sort()).toEqual(Object.keys(METRICS_ERROR_CODES).sort());
  });

  it('tables every process metric the hub registers', () => {
    const registry = new MetricsRegistry();
    registerProcessMetrics(registry).stop();
    const families = [...registry.render().matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    const table = rows(section('Metrics'));
    expect(families.length).toBeGreaterThanOrEqual(5);
    for (const [name, type] of families) expect({ name, type: table.get(name)?.[0] }).toEqual({ name, type });
  });
});

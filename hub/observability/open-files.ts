import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** The process's RLIMIT_NOFILE; `Infinity` for "unlimited". */
export interface OpenFileLimits {
  soft: number;
  hard: number;
}

/** Where Linux shows this process's limits and open descriptors. */
export const PROC_LIMITS = '/proc/self/limits';
export const PROC_FD_DIR = '/proc/self/fd';

/** The open-file limits from a /proc/<pid>/limits text, or null when the file or its line is absent (not Linux). */
export function readOpenFileLimits(path = PROC_LIMITS): OpenFileLimits | null {
  if (!existsSync(path)) return null;
  const line = readFileSync(path, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const m = line ? /^Max open files\s+(\S+)\s+(\S+)/.exec(line) : null;
  if (!m) return null;
  const parse = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: parse(m[1]!), hard: parse(m[2]!) };
}

/** Descriptors this process has open now, or null without /proc (readdir's own descriptor not counted). */
export function countOpenFiles(fdDir = PROC_FD_DIR): number | null {
  try {
    return readdirSync(fdDir).length - 1;
  } catch {
    return null;
  }
}

/**
 * Raises the soft open-file limit to the hard one when they differ. Node has no setrlimit (it raises the
 * soft limit itself at start on most builds), so this asks util-linux `prlimit` to do it for this pid,
 * which an unprivileged process may do up to the hard limit. Returns the limits in force afterwards.
 */
export function raiseOpenFileLimit(path = PROC_LIMITS): { before: OpenFileLimits | null; after: OpenFileLimits | null; raised: boolean } {
  const before = readOpenFileLimits(path);
  if (!before || before.soft >= before.hard || path !== PROC_LIMITS) return { before, after: before, raised: false };
  const hard = before.hard === Infinity ? 'unlimited' : String(before.hard);
  const result = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`], { stdio: 'ignore', timeout: 2000 });
  const after = readOpenFileLimits(path);
  return { before, after, raised: result.status === 0 && after !== null && after.soft > before.soft };
}

// faultCause: SQLite's codes, and on PostgreSQL the errors of a server out of reach, told apart from a refusal
// of the data itself (which stays 'other': a 500 or the caller's own error, never a retry-later 503).
import { describe, expect, it } from '@jest/globals';
import { FAULT_CAUSES, faultCause, isStorageFault, REOPEN_CAUSES } from './fault-cause.js';

const err = (fields: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), fields);

describe('faultCause', () => {
  it('keeps SQLite code families', () => {
    expect(faultCause(err({ code: 'SQLITE_BUSY_SNAPSHOT' }))).toBe('busy');
    expect(faultCause(err({ code: 'SQLITE_FULL' }))).toBe('full');
    expect(faultCause(err({ code: 'SQLITE_IOERR_WRITE' }))).toBe('ioerr');
    expect(faultCause(err({ code: 'HUB_ERR_STORE_CLOSED' }))).toBe('closed');
  });

  it('calls a PostgreSQL server out of reach unreachable: sockets, SQLSTATEs, node-postgres messages, a failed start', () => {
    const cases = [
      err({ code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 5432 }),
      err({ code: 'ENOENT', syscall: 'connect', address: '/tmp/s/.s.PGSQL.5432' }), // the Unix socket is gone
      err({ code: 'ECONNRESET', syscall: 'read' }),
      err({ code: '57P01' }, 'terminating connection due to administrator command'),
      err({ code: '08006' }),
      err({ code: '53300' }, 'sorry, too many clients already'),
      err({ code: '25P03' }, 'terminating connection due to idle-in-transaction timeout'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      err({ code: 'HUB_ERR_DB_UNREACHABLE' }),
    ];
    for (const e of cases) expect([e.message, faultCause(e)]).toEqual([e.message, 'unreachable']);
    expect(isStorageFault(cases[0])).toBe(true);
    expect(REOPEN_CAUSES.has('unreachable')).toBe(false); // the pool reconnects by itself
  });

  it('leaves refusals of the data, and file errors that are not a connection, as other', () => {
    expect(faultCause(err({ code: '23505' }, 'duplicate key value violates unique constraint'))).toBe('other');
    expect(faultCause(err({ code: '22P02' }, 'invalid input syntax for type bigint'))).toBe('other');
    expect(faultCause(err({ code: 'ENOENT', syscall: 'open', path: '/data/firmware/x.bin' }))).toBe('other');
    expect(faultCause(new Error('boom'))).toBe('other');
    expect(faultCause(undefined)).toBe('other');
    expect(isStorageFault(new Error('boom'))).toBe(false);
  });

  it('lists every cause once for the metrics', () => {
    expect(new Set(FAULT_CAUSES).size).toBe(FAULT_CAUSES.length);
    expect(FAULT_CAUSES).toContain('unreachable');
  });
});

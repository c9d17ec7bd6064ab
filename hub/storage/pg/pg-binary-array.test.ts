// Binary array parameters, read back by a real PostgreSQL: each element type, NULLs, empty arrays, edge values,
// and the inputs that must go as text instead (unsafe integers, NUL in a string).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import pg from 'pg';
import { describePg } from '../testing/pg-cluster.js';
import { boolArray, float8Array, int4Array, int8Array, textArray } from './pg-binary-array.js';

describePg('binary array parameters', (cluster) => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: await cluster().createDatabase('binarr') });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });
  // Text out, so that the comparison is PostgreSQL's own reading of the values, not node-postgres's.
  const back = async (param: Buffer, type: string) => (await client.query<{ v: string | null }>(`SELECT $1::${type}::text AS v`, [param])).rows[0]!.v;

  it('bigint[]: negative, zero, above 2^32 and the largest safe integer; empty', async () => {
    const values = [-(2 ** 53 - 1), -1, 0, 1, 2 ** 32 + 5, 1_796_227_388_362, 2 ** 53 - 1];
    expect(await back(int8Array(values)!, 'bigint[]')).toBe(`{${values.join(',')}}`);
    expect(await back(int8Array([])!, 'bigint[]')).toBe('{}');
    const sum = await client.query<{ s: string }>('SELECT sum(x)::text AS s FROM unnest($1::bigint[]) AS x', [int8Array([2 ** 40, 3])!]);
    expect(sum.rows[0]!.s).toBe(String(2 ** 40 + 3));
  });

  it('integer[] and boolean[]', async () => {
    expect(await back(int4Array([-(2 ** 31), 0, 7, 2 ** 31 - 1])!, 'integer[]')).toBe(`{${-(2 ** 31)},0,7,${2 ** 31 - 1}}`);
    expect(await back(boolArray([true, false, true]), 'boolean[]')).toBe('{t,f,t}');
    expect(await back(boolArray([]), 'boolean[]')).toBe('{}');
  });

  it('float8[] with NULLs, NaN and the infinities, bit for bit', async () => {
    expect(await back(float8Array([1.5, null, -273.15, Number.NaN, Infinity, -Infinity, null]), 'float8[]')).toBe('{1.5,NULL,-273.15,NaN,Infinity,-Infinity,NULL}');
    const [row] = (await client.query<{ x: number }>('SELECT x FROM unnest($1::float8[]) AS x', [float8Array([0.1 + 0.2])])).rows;
    expect(row!.x).toBe(0.1 + 0.2); // bit for bit
    expect(await back(float8Array([null, null]), 'float8[]')).toBe('{NULL,NULL}');
  });

  it('text[] with NULLs, quotes, commas, braces and characters outside ASCII', async () => {
    const values = ['plain', null, 'a,b', '{x}', 'say "hi"', 'back\\slash', 'grüße 温度 🌡️', ''];
    const { rows } = await client.query<{ v: string | null }>('SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS t (v, i) ORDER BY i', [textArray(values)!]);
    expect(rows.map((r) => r.v)).toEqual(values);
  });

  it('leaves to text what binary cannot carry: unsafe or fractional integers, out-of-range int4, NUL', () => {
    expect(int8Array([1, 2 ** 53])).toBeUndefined();
    expect(int8Array([1.5])).toBeUndefined();
    expect(int4Array([2 ** 31])).toBeUndefined();
    expect(int4Array([0.5])).toBeUndefined();
    expect(textArray(['ok', 'nul\0inside'])).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import {
  formatAgo,
  formatBytes,
  formatDateTime,
  formatDuration,
  formatFingerprint,
  formatNumber,
  formatRate,
  formatValue,
  metricLabel,
  formatClock,
  withUnit,
} from './format.js';

const float = (unit: string, deviceClass = '') => ({ valueType: 'float' as const, unit, deviceClass });

describe('formatValue', () => {
  it.each([
    [21.3125, float('°C'), '21.3 °C'],
    [45, { valueType: 'int' as const, unit: '%', deviceClass: 'battery' }, '45%'],
    [1234.56, float('W'), '1,235 W'],
    [3.14159, float(''), '3.14'],
    [0, float('W'), '0 W'],
    [-5.25, float('°C'), '-5.25 °C'],
  ])('shows %j as %j', (value, cap, text) => {
    expect(formatValue(value, cap, 'en')).toBe(text);
  });

  it('words booleans by device class', () => {
    expect(formatValue(true, { valueType: 'bool', unit: '', deviceClass: '' })).toBe('On');
    expect(formatValue(false, { valueType: 'bool', unit: '', deviceClass: '' })).toBe('Off');
    expect(formatValue(true, { valueType: 'bool', unit: '', deviceClass: 'motion' })).toBe('Motion');
    expect(formatValue(false, { valueType: 'bool', unit: '', deviceClass: 'door' })).toBe('Closed');
    expect(formatValue(1, { valueType: 'bool', unit: '', deviceClass: 'window' })).toBe('Open');
  });

  it('names enum options, passes text through and shows a dash for no value', () => {
    expect(formatValue('heat', { valueType: 'enum', unit: '', deviceClass: '', options: ['off', 'heat'] })).toBe('heat');
    expect(formatValue(1, { valueType: 'enum', unit: '', deviceClass: '', options: ['off', 'heat'] })).toBe('heat');
    expect(formatValue(7, { valueType: 'enum', unit: 'x', deviceClass: '', options: ['off', 'heat'] })).toBe('7');
    expect(formatValue('v1.2', { valueType: 'string', unit: '', deviceClass: '' })).toBe('v1.2');
    expect(formatValue(undefined)).toBe('—');
    expect(formatValue(null)).toBe('—');
  });
});

describe('numbers and units', () => {
  it('keeps more decimals for small numbers', () => {
    expect(formatNumber(1.23456, 'en')).toBe('1.23');
    expect(formatNumber(12.3456, 'en')).toBe('12.3');
    expect(formatNumber(123.456, 'en')).toBe('123');
    expect(formatNumber(12345, 'en')).toBe('12,345');
  });

  it('glues % to the number and spaces other units', () => {
    expect(withUnit('5', '%')).toBe('5%');
    expect(withUnit('5', 'kWh')).toBe('5 kWh');
    expect(withUnit('5', '')).toBe('5');
  });
});

describe('labels', () => {
  it.each([
    ['temperature', 'Temperature'],
    ['battery_level', 'Battery level'],
    ['co2', 'CO₂'],
    ['pm25', 'PM2.5'],
    ['on', 'Switch'],
  ])('labels metric %s as %s', (name, label) => expect(metricLabel(name)).toBe(label));

});

describe('times', () => {
  const now = 1_700_000_000_000;
  it.each([
    [now, 'just now'],
    [now + 5000, 'just now'],
    [now - 9_999, 'just now'],
    [now - 42_000, '42 s ago'],
    [now - 5 * 60_000 - 1, '5 min ago'],
    [now - 3 * 3600_000, '3 h ago'],
    [now - 2 * 86400_000 - 5, '2 d ago'],
  ])('says %d is %s', (ts, text) => expect(formatAgo(ts, now)).toBe(text));

  it('spells durations with two units', () => {
    expect(formatDuration(42_500)).toBe('42 s');
    expect(formatDuration(303_000)).toBe('5 min 3 s');
    expect(formatDuration(3 * 3600_000 + 12 * 60_000)).toBe('3 h 12 min');
    expect(formatDuration(2 * 86400_000 + 4 * 3600_000 + 59_000)).toBe('2 d 4 h');
    expect(formatDuration(-5)).toBe('0 s');
  });

  it('prints date-times in the locale asked for (the browser\'s by default)', () => {
    const t = new Date(2026, 0, 31, 14, 5, 9).getTime();
    expect(formatDateTime(t, 'en-GB')).toBe('31 Jan 2026, 14:05:09');
    expect(formatDateTime(t, 'en-US')).toBe('Jan 31, 2026, 02:05:09 PM');
    expect(formatDateTime(t)).toBe(new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(t));
  });

  it('prints the time of day, with the date when it is not today', () => {
    const t = new Date(2026, 0, 31, 19, 31, 0).getTime();
    expect(formatClock(t, t + 3600_000, 'en-GB')).toBe('19:31');
    expect(formatClock(t, t + 2 * 86400_000, 'en-GB')).toBe('31 Jan, 19:31');
  });
});

describe('sizes, rates, fingerprints', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [12.3 * 1024 * 1024, '12 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
  ])('shows %d bytes as %s', (n, text) => expect(formatBytes(n)).toBe(text));

  it('shows rates per second', () => {
    expect(formatRate(20_000, 'en')).toBe('20,000/s');
    expect(formatRate(0.54, 'en')).toBe('0.5/s');
  });

  it('groups fingerprints in byte pairs, whatever their input form', () => {
    expect(formatFingerprint('ab01ff')).toBe('AB:01:FF');
    expect(formatFingerprint('AB:01:FF')).toBe('AB:01:FF');
    expect(formatFingerprint('not hex')).toBe('not hex');
    expect(formatFingerprint('abc')).toBe('abc');
  });
});

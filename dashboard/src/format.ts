// Text shown to people: values with units, times, sizes, rates. Pure, so views stay thin and tests are exact.
import type { CapabilitySummary } from '../../hub/mqtt/topics.js';
import { storedToJson, type JsonValue } from '../../protocol/value-form.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Names whose plain title-casing reads wrong. */
const LABELS: Record<string, string> = { co2: 'CO₂', pm25: 'PM2.5', pm10: 'PM10', voc: 'VOC', on: 'Switch', rssi: 'Signal' };

/** Boolean wording by Home Assistant device class; the default is On/Off. */
const BOOL_WORDS: Record<string, [string, string]> = {
  motion: ['Motion', 'Clear'],
  occupancy: ['Occupied', 'Clear'],
  door: ['Open', 'Closed'],
  window: ['Open', 'Closed'],
  opening: ['Open', 'Closed'],
  moisture: ['Wet', 'Dry'],
  smoke: ['Smoke', 'Clear'],
};

/** A metric name as a label: `battery_level` -> `Battery level`, known acronyms as written. */
export function metricLabel(name: string): string {
  const known = LABELS[name];
  if (known) return known;
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A number for display: at most 2 decimals below 10, 1 below 100, none above; grouped thousands. */
export function formatNumber(n: number, locale?: string): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = Number.isInteger(n) ? 0 : abs < 10 ? 2 : abs < 100 ? 1 : 0;
  return numberFormat(locale, digits).format(n);
}

// Building an Intl.NumberFormat costs far more than formatting with one; tiles format thousands of values a second.
const FORMATS = new Map<string, Intl.NumberFormat>();
function numberFormat(locale: string | undefined, digits: number): Intl.NumberFormat {
  const key = `${locale ?? ''}|${digits}`;
  let f = FORMATS.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { maximumFractionDigits: digits });
    FORMATS.set(key, f);
  }
  return f;
}

/** A number with its unit: `21.3 °C`, `45%`, `230 W`. */
export function withUnit(text: string, unit: string): string {
  if (unit === '') return text;
  return unit === '%' ? `${text}%` : `${text} ${unit}`;
}

type ValueCap = Pick<CapabilitySummary, 'valueType' | 'unit' | 'deviceClass' | 'options'>;

/** A metric's value as people read it: units on numbers, words for booleans, enum option names. */
export function formatValue(value: JsonValue | null | undefined, cap?: ValueCap, locale?: string): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') {
    const words = BOOL_WORDS[cap?.deviceClass ?? ''] ?? ['On', 'Off'];
    return value ? words[0] : words[1];
  }
  if (typeof value === 'number') {
    // Charts and sliders hand over numbers: a bool's 0/1 or an enum's index, which storedToJson names.
    const json = cap ? storedToJson(cap, value) : value;
    if (typeof json !== 'number') return formatValue(json, cap, locale);
    if (cap?.valueType === 'enum') return String(value);
    return withUnit(formatNumber(value, locale), cap?.unit ?? '');
  }
  return value;
}

/** How long ago `ts` was, coarsely: `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function formatAgo(ts: number, now: number): string {
  const dt = now - ts;
  if (dt < 10 * SECOND) return 'just now';
  if (dt < MINUTE) return `${Math.floor(dt / SECOND)} s ago`;
  if (dt < HOUR) return `${Math.floor(dt / MINUTE)} min ago`;
  if (dt < DAY) return `${Math.floor(dt / HOUR)} h ago`;
  return `${Math.floor(dt / DAY)} d ago`;
}

/** A span of time: `42 s`, `5 min 3 s`, `3 h 12 min`, `2 d 4 h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / SECOND));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = Math.max(0, bytes);
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

/** A rate per second, grouped: `1,234/s`, `0.5/s`. */
export function formatRate(perSecond: number, locale?: string): string {
  return `${numberFormat(locale, perSecond < 10 ? 1 : 0).format(perSecond)}/s`;
}

/** Date and time to the second in the browser's locale: the one date-time form of every page (logs, legends). */
export function formatDateTime(ts: number, locale?: string): string {
  return dateTimeFormat(locale, 'datetime').format(ts);
}

/** Time of day in the browser's locale (`19:31`); with the date too when `ts` is not today. */
export function formatClock(ts: number, now: number, locale?: string): string {
  const sameDay = new Date(ts).toDateString() === new Date(now).toDateString();
  return dateTimeFormat(locale, sameDay ? 'time' : 'daytime').format(ts);
}

const DATE_FORMATS = {
  datetime: { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' },
  daytime: { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' },
  time: { hour: '2-digit', minute: '2-digit' },
} as const satisfies Record<string, Intl.DateTimeFormatOptions>;
const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateTimeFormat(locale: string | undefined, kind: keyof typeof DATE_FORMATS): Intl.DateTimeFormat {
  const key = `${locale ?? ''}|${kind}`;
  let f = dateFormats.get(key);
  if (!f) dateFormats.set(key, (f = new Intl.DateTimeFormat(locale, DATE_FORMATS[kind])));
  return f;
}

/** A SHA-256 fingerprint as colon-separated upper-case byte pairs, however it was written. */
export function formatFingerprint(text: string): string {
  if (!/^[0-9a-f:\s]+$/i.test(text)) return text;
  const hex = text.replace(/[:\s]/g, '').toUpperCase();
  if (hex.length === 0 || hex.length % 2 !== 0) return text;
  return hex.match(/../g)!.join(':');
}

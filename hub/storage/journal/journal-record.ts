import { crc32 } from 'node:zlib';
import { Reader } from '../../../protocol/reader.js';
import { readValue, writeValue } from '../../../protocol/value.js';
import { Writer } from '../../../protocol/writer.js';
import type { CommitBatch } from '../types.js';

/**
 * One group commit as the ingest journal holds it: the bytes of the batch, not the pages it would touch.
 *
 *   u32 LE  payload length
 *   u32 LE  CRC-32 of the payload (zlib's)
 *   payload varint readings, varint events, varint devices, varint base (the smallest timestamp)
 *           per reading: varint series, varint ts - base, value (tag + payload as on the wire [FP-5.2])
 *           per event:   string device, string name, varint ts - base, value
 *           per device:  string id, u8 flags (1: seq, 2: lastSeen), [varint seq], [varint lastSeen - base]
 *
 * Timestamps are >= 0 and <= 2^53-1 (the log's CHECK), so ts - base is a varint too. A record whose length
 * runs past the file or whose CRC differs was cut short by a crash while it was written: it was never
 * acknowledged, and it ends its segment (journal-segments.ts).
 */
export const RECORD_HEADER_BYTES = 8;
const HAS_SEQ = 1;
const HAS_SEEN = 2;
/** Device ids are 1-64 characters [FP-2.1]; event names follow the protocol's string limit. */
const MAX_ID_BYTES = 64;

const writer = new Writer(4096);

/** The record of `batch`, header included. */
export function encodeRecord(batch: CommitBatch): Buffer {
  const w = writer;
  w.reset();
  let base = Number.MAX_SAFE_INTEGER;
  for (const r of batch.readings) if (r.ts < base) base = r.ts;
  for (const e of batch.events) if (e.ts < base) base = e.ts;
  for (const at of batch.lastSeen.values()) if (at < base) base = at;
  if (base === Number.MAX_SAFE_INTEGER) base = 0;
  // Devices with a seq (each usually has a lastSeen too), then those with a lastSeen alone: no set built per commit.
  let seenOnly = 0;
  for (const id of batch.lastSeen.keys()) if (!batch.seqs.has(id)) seenOnly += 1;
  w.varint(batch.readings.length);
  w.varint(batch.events.length);
  w.varint(batch.seqs.size + seenOnly);
  w.varint(base);
  for (const r of batch.readings) {
    w.varint(r.series);
    w.varint(r.ts - base);
    writeValue(w, r.value);
  }
  for (const e of batch.events) {
    w.string(e.deviceId, MAX_ID_BYTES, 'device id');
    w.string(e.name, undefined, 'event name');
    w.varint(e.ts - base);
    writeValue(w, e.value);
  }
  for (const [id, seq] of batch.seqs) writeDevice(w, id, seq, batch.lastSeen.get(id), base);
  if (seenOnly > 0) for (const [id, seen] of batch.lastSeen) if (!batch.seqs.has(id)) writeDevice(w, id, undefined, seen, base);
  const payload = w.toBytes();
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

function writeDevice(w: Writer, id: string, seq: number | undefined, seen: number | undefined, base: number): void {
  w.string(id, MAX_ID_BYTES, 'device id');
  w.u8((seq !== undefined ? HAS_SEQ : 0) | (seen !== undefined ? HAS_SEEN : 0));
  if (seq !== undefined) w.varint(seq);
  if (seen !== undefined) w.varint(seen - base);
}

/** One record read back: its batch and the offset just past it. */
export interface ReadRecord {
  batch: CommitBatch;
  end: number;
}

/**
 * The record at `offset` of `bytes`, or undefined when none starts there whole and intact (the end of the
 * segment, or a record cut short by a crash). Throws only for a record whose CRC matches but whose payload
 * does not decode, which no crash produces: a journal written by something else.
 */
export function decodeRecord(bytes: Buffer, offset: number): ReadRecord | undefined {
  if (offset + RECORD_HEADER_BYTES > bytes.length) return undefined;
  const length = bytes.readUInt32LE(offset);
  const start = offset + RECORD_HEADER_BYTES;
  const end = start + length;
  if (end > bytes.length) return undefined;
  const payload = bytes.subarray(start, end);
  if (crc32(payload) !== bytes.readUInt32LE(offset + 4)) return undefined;
  const r = new Reader(payload);
  const nReadings = r.varint();
  const nEvents = r.varint();
  const nDevices = r.varint();
  const base = r.varint();
  const batch: CommitBatch = { readings: [], events: [], seqs: new Map(), lastSeen: new Map() };
  for (let i = 0; i < nReadings; i++) {
    const series = r.varint();
    const ts = base + r.varint();
    batch.readings.push({ series, ts, value: readValue(r) });
  }
  for (let i = 0; i < nEvents; i++) {
    const deviceId = r.string(MAX_ID_BYTES, 'device id');
    const name = r.string(undefined, 'event name');
    const ts = base + r.varint();
    batch.events.push({ deviceId, name, ts, value: readValue(r) });
  }
  for (let i = 0; i < nDevices; i++) {
    const id = r.string(MAX_ID_BYTES, 'device id');
    const flags = r.u8();
    if (flags & HAS_SEQ) batch.seqs.set(id, r.varint());
    if (flags & HAS_SEEN) batch.lastSeen.set(id, base + r.varint());
  }
  r.expectEnd();
  return { batch, end };
}

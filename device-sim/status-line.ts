import type { FleetStats } from './fleet.js';

/** The live status line: connected/total, readings/s, acked, pending, reconnects, drops, ACK p50/p99, own cost. */
export function formatStatus(s: FleetStats, readingsPerSecond: number): string {
  return [
    `connected ${s.online}/${s.devices}`,
    `${formatCount(readingsPerSecond)} readings/s`,
    `acked ${formatCount(s.acked)}`,
    `pending ${formatCount(s.pending)}`,
    `reconnects ${s.reconnects}`,
    `drops ${s.drops}`,
    `ACK p50 ${formatMs(s.ackLatencyMs.p50)} p99 ${formatMs(s.ackLatencyMs.p99)}`,
    `cpu ${s.cpu.percentOfOneCore}% rss ${Math.round(s.memory.rssBytes / 1048576)} MB`,
  ].join(' | ');
}

/** A few human-readable lines summing up a finished run. */
export function formatSummary(s: FleetStats, verdict: { ok: boolean; neverConnected: string[]; lostItems: number }): string {
  const lines = [
    `${verdict.ok ? 'OK' : 'FAILED'}: ${s.everConnected}/${s.devices} devices connected, ${s.generated} readings generated, ${s.acked} frames acknowledged in ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `sent ${s.sent} frames (${s.resent} resent), pending ${s.pending}, reconnects ${s.reconnects}, drops ${s.drops} (${s.droppedItems} readings)`,
    `ACK latency p50 ${formatMs(s.ackLatencyMs.p50)}, p99 ${formatMs(s.ackLatencyMs.p99)}, max ${formatMs(s.ackLatencyMs.max)} over ${s.ackLatencyMs.count} frames`,
    `simulator cpu ${s.cpu.userMs + s.cpu.systemMs} ms (${s.cpu.percentOfOneCore}% of one core), rss ${Math.round(s.memory.rssBytes / 1048576)} MB, heap ${Math.round(s.memory.heapUsedBytes / 1048576)} MB`,
  ];
  const errors = Object.entries(s.hubErrors);
  if (errors.length > 0) lines.push(`hub said: ${errors.map(([k, n]) => `${k} x${n}`).join(', ')}`);
  if (verdict.lostItems > 0) lines.push(`${verdict.lostItems} readings were dropped or never acknowledged`);
  if (verdict.neverConnected.length > 0) {
    const shown = verdict.neverConnected.slice(0, 10).join(', ');
    lines.push(`never connected: ${shown}${verdict.neverConnected.length > 10 ? `, and ${verdict.neverConnected.length - 10} more` : ''}`);
  }
  return lines.join('\n');
}

function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function formatCount(n: number): string {
  if (n >= 10_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 100_000) return `${(n / 1000).toFixed(0)}k`;
  return String(Math.round(n));
}

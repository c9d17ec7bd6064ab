// Test support: a DeviceLink that keeps what the session did with it (frames sent, close, pause), so a
// DeviceSession is tested without sockets. It holds no rule: the session under test decides everything.
import { decode } from '../../../protocol/index.js';
import type { Frame } from '../../../protocol/types.js';
import type { DeviceLink } from '../../transport/device-server.js';

/** A DeviceLink that records frames sent (decoded), the close asked for, pauses and pings. */
export class RecordingLink implements DeviceLink {
  readonly deviceId: string;
  readonly remoteAddress = '127.0.0.1';
  /** The subprotocol the upgrade selected [FP-2.2]. */
  readonly protocol: string;
  /** Every frame sent to the device, decoded, in order. */
  readonly sent: Frame[] = [];
  /** The frames of `sent` the session asked to go without permessage-deflate [FP-10.4]. */
  readonly uncompressed: Frame[] = [];
  /** The close the session asked for, if any. */
  closed: { code: number; reason: string } | null = null;
  terminated = false;
  paused = false;
  pings = 0;

  constructor(deviceId: string, protocol = 'hearth.v1') {
    this.deviceId = deviceId;
    this.protocol = protocol;
  }

  send(bytes: Uint8Array, opts?: { compress?: boolean }): void {
    const frame = decode(bytes);
    this.sent.push(frame);
    if (opts?.compress === false) this.uncompressed.push(frame);
  }

  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }

  terminate(): void {
    this.terminated = true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  ping(): void {
    this.pings += 1;
  }

  /** The frames sent of one type. */
  sentOf<T extends Frame['type']>(type: T): Extract<Frame, { type: T }>[] {
    return this.sent.filter((f): f is Extract<Frame, { type: T }> => f.type === type);
  }
}

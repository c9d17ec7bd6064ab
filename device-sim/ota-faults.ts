// Fault injection for simulated firmware updates, from the library (OtaFaults) and from hearth-sim's
// --ota-fault flag (parseOtaFaults). Each fault exercises one rule of firmware-protocol.md section 14.

/** What can go wrong in a simulated device's update; every field is optional, none means a clean update. */
export interface OtaFaults {
  /** Drop the connection (no close frame) once this fraction of the image is stored, once per entry [FP-14.6]. */
  disconnectAt?: number[];
  /** Corrupt (in transit) the chunk that holds this fraction of the image: its CRC-32 fails [FP-14.5]. */
  corruptAt?: number;
  /** Corrupt a stored byte after its CRC passed: the final SHA-256 fails [FP-14.7]. */
  badHash?: boolean;
  /** Refuse every offer with this reason [FP-14.4]. */
  refuse?: string;
  /** Defer this many offers (reason battery_low, retry after `deferSeconds`) before accepting [FP-14.4]. */
  defer?: number;
  deferSeconds?: number;
  /** After a verified image and the reboot, come back with the old firmware [FP-14.7]. */
  rollback?: boolean;
  /** Chunks the device takes beyond its confirmed offset (default 4) [FP-14.5]. */
  window?: number;
}

/** A problem with a --ota-fault value, naming the part at fault. */
export class OtaFaultError extends Error {
  override name = 'OtaFaultError';
}

/**
 * Parses `disconnect@0.3+disconnect@0.6+corrupt@0.5+bad-hash+refuse=downgrade+defer=2+rollback+window=8`
 * (any subset, joined by `+`) into OtaFaults; throws OtaFaultError on anything else.
 */
export function parseOtaFaults(text: string): OtaFaults {
  const faults: OtaFaults = {};
  const fraction = (part: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !(n >= 0 && n <= 1)) throw new OtaFaultError(`${part}: expected a fraction of the image from 0 to 1`);
    return n;
  };
  const count = (part: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new OtaFaultError(`${part}: expected a whole number of at least ${min}`);
    return n;
  };
  for (const part of text.split('+')) {
    const [name, value] = part.split(/[@=]/, 2) as [string, string | undefined];
    switch (name) {
      case 'disconnect':
        (faults.disconnectAt ??= []).push(fraction(part, value));
        break;
      case 'corrupt':
        faults.corruptAt = fraction(part, value);
        break;
      case 'bad-hash':
        faults.badHash = true;
        break;
      case 'refuse':
        if (!value || !/^[a-z][a-z0-9_]{0,31}$/.test(value)) throw new OtaFaultError(`${part}: expected refuse=<reason>, a word of a-z 0-9 _`);
        faults.refuse = value;
        break;
      case 'defer':
        faults.defer = value === undefined ? 1 : count(part, value, 1);
        break;
      case 'rollback':
        faults.rollback = true;
        break;
      case 'window':
        faults.window = count(part, value, 1);
        if (faults.window > 64) throw new OtaFaultError(`${part}: at most 64`);
        break;
      default:
        throw new OtaFaultError(`unknown fault "${part}" (disconnect@F, corrupt@F, bad-hash, refuse=R, defer=N, rollback, window=N)`);
    }
  }
  return faults;
}

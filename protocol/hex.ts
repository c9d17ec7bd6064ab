// Hex text for bytes: used by the test vectors, the protocol document and logs.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of `bytes`, bytes joined by `separator` ('' by default). */
export function toHex(bytes: Uint8Array, separator = ''): string {
  const parts: string[] = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = HEX[bytes[i]!]!;
  return parts.join(separator);
}

/** Parses hex text, ignoring whitespace; throws a RangeError on an odd digit count or a non-hex character. */
export function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new RangeError(`not hex: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

// The JSON form of frames used by protocol/vectors.json and the protocol document: identical to
// the Frame except that an extension payload is a lower-case hex string.
import { fromHex, toHex } from './hex.js';
import type { ExtensionFrame, Frame } from './types.js';

export type JsonFrame = Exclude<Frame, ExtensionFrame> | { type: 'extension'; code: number; payload: string };

/** The JSON form of `frame` (payload bytes as hex). */
export function frameToJson(frame: Frame): JsonFrame {
  return frame.type === 'extension' ? { type: 'extension', code: frame.code, payload: toHex(frame.payload) } : frame;
}

/** The Frame a JSON form stands for (hex payload back to bytes). */
export function frameFromJson(json: JsonFrame): Frame {
  return json.type === 'extension' ? { type: 'extension', code: json.code, payload: fromHex(json.payload) } : json;
}

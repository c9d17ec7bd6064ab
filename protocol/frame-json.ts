// The JSON form of frames used by protocol/vectors.json and the protocol document: identical to
// the Frame except that an extension payload and update chunk data are lower-case hex strings.
import { fromHex, toHex } from './hex.js';
import type { UpdateChunkFrame } from './ota-types.js';
import type { ExtensionFrame, Frame } from './types.js';

export type JsonFrame =
  | Exclude<Frame, ExtensionFrame | UpdateChunkFrame>
  | { type: 'extension'; code: number; payload: string }
  | (Omit<UpdateChunkFrame, 'data'> & { data: string });

/** The JSON form of `frame` (payload and chunk bytes as hex). */
export function frameToJson(frame: Frame): JsonFrame {
  if (frame.type === 'extension') return { type: 'extension', code: frame.code, payload: toHex(frame.payload) };
  if (frame.type === 'update_chunk') return { ...frame, data: toHex(frame.data) };
  return frame;
}

/** The Frame a JSON form stands for (hex payload and chunk bytes back to bytes). */
export function frameFromJson(json: JsonFrame): Frame {
  if (json.type === 'extension') return { type: 'extension', code: json.code, payload: fromHex(json.payload) };
  if (json.type === 'update_chunk') return { ...json, data: fromHex(json.data) };
  return json;
}

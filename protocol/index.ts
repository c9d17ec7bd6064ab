// The public face of the protocol codec: everything the hub, the simulator and the tests import.
// Pure TypeScript over Uint8Array: no sockets, timers or Node-only APIs (see /work/shared/STYLE.md).
export type * from './types.js';
export * from './constants.js';
export * from './error-codes.js';
export { ProtocolError } from './errors.js';
export { encode } from './encode.js';
export { decode } from './decode.js';
export { Reader } from './reader.js';
export { Writer } from './writer.js';
export { readValue, writeValue, checkValue } from './value.js';
export { utf8ByteLength } from './utf8.js';
export { toHex, fromHex } from './hex.js';
export { frameToJson, frameFromJson, type JsonFrame } from './frame-json.js';
export { isDataFrame, sentByDevice, sentByHub } from './frame-kind.js';
export * from './value-form.js';
export type * from './ota-types.js';
export * from './ota-constants.js';
export { crc32 } from './crc32.js';

// Numbers and names fixed by firmware-protocol.md. The document's tables and these must agree
// (protocol/spec-sync.test.ts checks it).

/** Protocol major version carried in every frame header [FP-3.1]. */
export const PROTOCOL_VERSION = 1;
/** WebSocket subprotocol token a v1 device must offer [FP-2.2]. */
export const SUBPROTOCOL = 'hearth.v1';
/** Subprotocol token of minor revision 1.1 [FP-2.2] [FP-10.2]: the same frames, with appended 1.1 fields. */
export const SUBPROTOCOL_1_1 = 'hearth.v1.1';
/** The tokens the hub speaks, preferred first: it selects the first of these the device offers [FP-2.2]. */
export const SUBPROTOCOLS = [SUBPROTOCOL_1_1, SUBPROTOCOL] as const;
/** How long a device has to answer a COMMAND when WELCOME does not say (a 1.0 session) [FP-7.7]. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
/** Device endpoint path prefix; the device id follows: /v1/devices/<id> [FP-2.1]. */
export const DEVICE_PATH_PREFIX = '/v1/devices/';

/** Wire codes of frame types [FP-3.2]. 0x80-0xFF is the extension range [FP-10.2]. */
export const FRAME_TYPE_CODES = {
  hello: 0x01,
  welcome: 0x02,
  telemetry: 0x03,
  batch: 0x04,
  ack: 0x05,
  command: 0x06,
  command_result: 0x07,
  event: 0x08,
  error: 0x09,
} as const;
export const EXTENSION_TYPE_MIN = 0x80;

/** Header flag bits (low nibble of byte 0) [FP-3.3]. */
export const FLAG_RESEND = 0x01;

/** Value tags [FP-5.2]. */
export const VALUE_TAGS = {
  false: 0x00,
  true: 0x01,
  int: 0x02,
  float32: 0x03,
  float64: 0x04,
  string: 0x05,
  enum: 0x06,
} as const;

export const COMMAND_STATUS_CODES = {
  ok: 0,
  invalid: 1,
  failed: 2,
  unsupported: 3,
  busy: 4,
} as const;

/** Limits [FP-9]. */
export const LIMITS = {
  maxFrameBytes: 65536,
  maxReadingsPerFrame: 64,
  maxBatchSamples: 4096,
  maxCapabilities: 64,
  maxCapabilityId: 255,
  maxEnumOptions: 32,
  maxStringBytes: 255,
  maxNameBytes: 32,
  maxUnitBytes: 16,
  maxModelBytes: 64,
  maxFirmwareBytes: 32,
  maxMessageBytes: 255,
  maxErrorCodeBytes: 32,
  maxDeviceIdLength: 64,
} as const;

/** Device ids [FP-2.1]: 1-64 characters of A-Z a-z 0-9 _ . - (safe in URLs and MQTT topic levels). */
export const DEVICE_ID_PATTERN = new RegExp(`^[A-Za-z0-9_.-]{1,${LIMITS.maxDeviceIdLength}}$`);

/** Largest integer a varint carries: 2^53 - 1 [FP-4.1]. */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;
/** `int` values are 53-bit two's complement so that their zigzag form fits a varint [FP-5.3]. */
export const INT_MIN = -(2 ** 52);
export const INT_MAX = 2 ** 52 - 1;

/** WebSocket close codes [FP-11.1]. */
export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  BAD_VERSION: 4001,
  UNKNOWN_FRAME_TYPE: 4002,
  GREETING_REQUIRED: 4003,
  GREETING_TIMEOUT: 4004,
  CAPABILITY_VIOLATION: 4005,
  LIMIT_EXCEEDED: 4007,
  RATE_LIMITED: 4008,
  REPLACED: 4009,
  REVOKED: 4010,
} as const;
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

// The error codes and their close codes and HTTP statuses: protocol/error-codes.ts.

/** Wire codes of the value type of a capability in HELLO [FP-5.1]. */
export const VALUE_TYPE_CODES = {
  bool: 0,
  int: 1,
  float: 2,
  string: 3,
  enum: 4,
} as const;

/** Bits of a capability's flags byte in HELLO; bits 3-7 are reserved [FP-6.1]. */
export const CAPABILITY_FLAGS = {
  writable: 0x01,
  event: 0x02,
  range: 0x04,
} as const;

/** Largest enum index a value carries [FP-5.5]. */
export const MAX_ENUM_INDEX = 255;

// The one registry of stable error codes: what each means, how it is answered and which documents table
// it. Devices, the dashboard and the hub's own parts name these strings; test/error-codes.test.ts fails
// when a code in the sources, a code here and the documents' tables disagree.
import { CLOSE_CODES, type CloseCode } from './constants.js';

/** How a code reaches whoever caused it; a code may be answered in more than one way. */
export interface ErrorAnswers {
  /** WebSocket close code that follows the ERROR frame in a device session [FP-11.1]. */
  readonly close?: CloseCode;
  /** HTTP status refusing a WebSocket upgrade, before any socket exists [FP-2.2]. */
  readonly upgrade?: number;
  /** HTTP status of an answer `{error, message}` of the HTTPS port's API, /metrics or static files. */
  readonly http?: number;
  /** MQTT 3.1.1 CONNACK return code refusing a connection. */
  readonly connack?: number;
  /** Named in a hub log line (the broker's refusals, a restarted compaction worker). */
  readonly log?: true;
  /** The `code` of an error a part throws to its caller; in `hearth` it ends the command with exit 1. */
  readonly thrown?: true;
  /** Raised by the dashboard itself; the hub never sends it. */
  readonly dashboard?: true;
}

/** The documents that table error codes, each with the answers it states. */
export type ErrorDoc = 'firmware-protocol.md' | 'docs/api.md' | 'docs/mqtt.md' | 'docs/operations.md';

export interface ErrorCodeEntry {
  readonly meaning: string;
  readonly answered: ErrorAnswers;
  /** Where the code is tabled; together the tables state every answer of `answered`. */
  readonly docs: readonly ErrorDoc[];
}

const FP = 'firmware-protocol.md';
const API = 'docs/api.md';
const MQTT = 'docs/mqtt.md';
const OPS = 'docs/operations.md';

/** Every HUB_ERR_* and PROTO_ERR_* code, in the order of the documents' tables. */
export const ERROR_CODES = {
  // Decoding bytes [FP-11.2]: ProtocolError carries the close code.
  PROTO_ERR_TRUNCATED: { meaning: 'input ended inside the header, a fixed-width field or a varint', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_LENGTH_OVERRUN: { meaning: 'a declared length or count beyond the remaining bytes', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_TRAILING_BYTES: { meaning: 'bytes after the last field', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_BAD_VERSION: { meaning: 'header version not 1', answered: { close: CLOSE_CODES.BAD_VERSION }, docs: [FP] },
  PROTO_ERR_UNKNOWN_TYPE: { meaning: 'unknown frame type code', answered: { close: CLOSE_CODES.UNKNOWN_FRAME_TYPE }, docs: [FP] },
  PROTO_ERR_VARINT: { meaning: 'overlong varint, more than 8 bytes, or above 2^53-1', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_BAD_VALUE_TAG: { meaning: 'unknown value tag', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_BAD_FLOAT: { meaning: 'NaN or infinity in a value or a capability range', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_BAD_UTF8: { meaning: 'a string that is not well-formed UTF-8', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_BAD_FIELD: { meaning: 'a field outside its allowed values', answered: { close: CLOSE_CODES.INVALID_PAYLOAD }, docs: [FP] },
  PROTO_ERR_LIMIT: { meaning: 'a size or count over its limit', answered: { close: CLOSE_CODES.LIMIT_EXCEEDED }, docs: [FP] },

  // The device endpoint: upgrade refusals [FP-2.2][FP-2.3] and session errors [FP-11.2].
  HUB_ERR_UNKNOWN_DEVICE: { meaning: 'no device with this id, or it is revoked', answered: { upgrade: 401, http: 404 }, docs: [FP, API] },
  HUB_ERR_BAD_TOKEN: { meaning: 'missing or wrong bearer token', answered: { upgrade: 401 }, docs: [FP] },
  HUB_ERR_SUBPROTOCOL: { meaning: 'neither subprotocol hearth.v1.1 nor hearth.v1 was offered', answered: { upgrade: 400 }, docs: [FP] },
  HUB_ERR_TEXT_FRAME: { meaning: 'a text WebSocket message; frames are binary only', answered: { close: CLOSE_CODES.UNSUPPORTED_DATA }, docs: [FP] },
  HUB_ERR_GREETING_REQUIRED: { meaning: 'the first frame was not HELLO', answered: { close: CLOSE_CODES.GREETING_REQUIRED }, docs: [FP] },
  HUB_ERR_GREETING_TIMEOUT: { meaning: 'no HELLO within the greeting timeout', answered: { close: CLOSE_CODES.GREETING_TIMEOUT }, docs: [FP] },
  HUB_ERR_UNEXPECTED_FRAME: { meaning: 'a second HELLO or a frame type only the hub sends', answered: { close: CLOSE_CODES.PROTOCOL_ERROR }, docs: [FP] },
  HUB_ERR_CAPABILITY: { meaning: 'a value that does not fit its declared capability', answered: { close: CLOSE_CODES.CAPABILITY_VIOLATION }, docs: [FP] },
  HUB_ERR_UPDATE_VIOLATION: { meaning: 'a firmware update answer or progress offset that breaks the transfer rules', answered: { close: CLOSE_CODES.PROTOCOL_ERROR }, docs: [FP] },
  HUB_ERR_RATE_LIMITED: { meaning: 'over the frame rate', answered: { close: CLOSE_CODES.RATE_LIMITED }, docs: [FP] },
  HUB_ERR_REPLACED: { meaning: 'a newer connection of this device took over', answered: { close: CLOSE_CODES.REPLACED }, docs: [FP] },
  HUB_ERR_REVOKED: { meaning: 'the device was revoked', answered: { close: CLOSE_CODES.REVOKED }, docs: [FP] },
  HUB_ERR_SHUTDOWN: { meaning: 'the hub is shutting down', answered: { close: CLOSE_CODES.GOING_AWAY, upgrade: 503 }, docs: [FP] },
  HUB_ERR_BUSY: { meaning: 'the hub is near its open-file limit; retry with backoff', answered: { upgrade: 503, http: 503 }, docs: [FP, API] },
  HUB_ERR_STORAGE: { meaning: 'storage cannot take the write now (disk full, read-only, locked elsewhere, or the shared database unreachable); retry with backoff', answered: { close: CLOSE_CODES.TRY_AGAIN_LATER, upgrade: 503, http: 503 }, docs: [FP, API] },
  HUB_ERR_INTERNAL: { meaning: 'internal hub error', answered: { close: CLOSE_CODES.INTERNAL_ERROR, http: 500 }, docs: [FP, API] },

  // The HTTPS port: API, sessions, /metrics, static files and the upgrade router.
  HUB_ERR_BAD_REQUEST: { meaning: 'a malformed body, parameter, path or WebSocket upgrade', answered: { http: 400, upgrade: 400 }, docs: [API] },
  HUB_ERR_BODY_TOO_LARGE: { meaning: 'a request body over 64 KiB', answered: { http: 413 }, docs: [API] },
  HUB_ERR_UNAUTHORIZED: { meaning: 'no valid bearer token', answered: { http: 401 }, docs: [API] },
  HUB_ERR_FORBIDDEN: { meaning: 'the role may not do this', answered: { http: 403 }, docs: [API] },
  HUB_ERR_NOT_FOUND: { meaning: 'no endpoint at this path', answered: { http: 404, upgrade: 404 }, docs: [API] },
  HUB_ERR_METHOD_NOT_ALLOWED: { meaning: 'the method is not allowed on this path', answered: { http: 405 }, docs: [API] },
  HUB_ERR_UNKNOWN_METRIC: { meaning: 'the device has no metric of that name', answered: { http: 404 }, docs: [API] },
  HUB_ERR_DEVICE_EXISTS: { meaning: 'a device with this id exists, revoked or not', answered: { http: 409, thrown: true }, docs: [API, OPS] },
  HUB_ERR_UNKNOWN_FIRMWARE: { meaning: 'no firmware image of that model and version', answered: { http: 404, thrown: true }, docs: [API, OPS] },
  HUB_ERR_FIRMWARE_EXISTS: { meaning: 'the model and version, or the bytes, are stored under another name', answered: { http: 409, thrown: true }, docs: [API, OPS] },
  HUB_ERR_BAD_CREDENTIALS: { meaning: 'wrong user name or password at sign-in', answered: { http: 401 }, docs: [API] },
  HUB_ERR_TOO_MANY_ATTEMPTS: { meaning: 'too many failed sign-ins from one address', answered: { http: 429 }, docs: [API] },
  HUB_ERR_NETWORK: { meaning: 'the hub did not answer the dashboard', answered: { dashboard: true }, docs: [API] },

  // MQTT: the embedded broker and the user store.
  HUB_ERR_ORIGIN: { meaning: 'MQTT over WebSocket from a page of another origin', answered: { upgrade: 403 }, docs: [MQTT] },
  HUB_ERR_MQTT_CLIENT_ID: { meaning: 'empty client id with clean session off', answered: { connack: 2, log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_BAD_CREDENTIALS: { meaning: 'wrong user name or password', answered: { connack: 4, log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_NOT_AUTHORIZED: { meaning: 'no user name, or a role that may not connect', answered: { connack: 5, log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_AUTH_FAILED: { meaning: 'the credentials could not be checked', answered: { connack: 3, log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_PUBLISH_DENIED: { meaning: 'a publish the role or ACL file forbids; 3.1.1: the connection is closed, MQTT 5: PUBACK/PUBREC 0x87', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_SUBSCRIBE_DENIED: { meaning: 'a subscription the role or ACL file forbids; SUBACK 0x80 (MQTT 5: 0x87)', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_SESSION_TAKEN: { meaning: "a client id whose session belongs to another user (MQTT 5: CONNACK 0x87)", answered: { connack: 5, log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_ACL_FILE: { meaning: 'the ACL file cannot be read or has a malformed line', answered: { thrown: true, log: true }, docs: [MQTT] },
  HUB_ERR_USER_EXISTS: { meaning: 'a user of that name exists', answered: { thrown: true, http: 409 }, docs: [MQTT, API] },
  HUB_ERR_USER_NAME: { meaning: 'a user name outside 1-64 characters of A-Z a-z 0-9 _ . -', answered: { thrown: true, http: 400 }, docs: [MQTT, API] },
  HUB_ERR_USER_ROLE: { meaning: 'a role other than admin, integration or viewer', answered: { thrown: true, http: 400 }, docs: [MQTT, API] },
  HUB_ERR_USER_PASSWORD: { meaning: 'an empty password, or one over 1024 bytes', answered: { thrown: true, http: 400 }, docs: [MQTT, API] },
  HUB_ERR_MQTT_THROTTLED: { meaning: 'too many failed passwords from the address or for the user (v5: CONNACK 0x9F)', answered: { connack: 5, log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_PACKET_TOO_LARGE: { meaning: 'more bytes before CONNECT, or a larger packet after it, than the limits allow; the connection is closed', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_CONNECT_TIMEOUT: { meaning: 'no complete CONNECT within mqtt.connectTimeoutMs; the connection is closed', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_MALFORMED: { meaning: 'ill-formed UTF-8, U+0000, or a misplaced wildcard in a string, topic or filter; the connection is closed', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_SUBSCRIPTION_LIMIT: { meaning: 'a filter past mqtt.maxFiltersPerSubscribe or mqtt.maxSubscriptionsPerClient; SUBACK 0x80', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_MQTT_SLOW_CLIENT: { meaning: 'a client with more than mqtt.maxClientBacklogBytes unsent; the connection is closed', answered: { log: true }, docs: [MQTT] },
  HUB_ERR_USERS_FILE: { meaning: 'users.json cannot be read or is malformed', answered: { thrown: true }, docs: [MQTT] },

  // Operations: start-up, storage and the metrics registry.
  HUB_ERR_CONFIG: { meaning: 'an MQTT TLS port without a TLS key and certificate', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_DB_TOO_NEW: { meaning: 'the database was written by a newer Hearth', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_STORE_CLOSED: { meaning: 'the store was used before open() or after close()', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_DB_UNREACHABLE: { meaning: 'the PostgreSQL server of db.url cannot be connected to (down, refused, wrong credentials)', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_FENCED: { meaning: 'a PostgreSQL commit for a device another hub has claimed since; nothing of the batch was stored', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_CHUNK_CORRUPT: { meaning: 'a stored chunk does not decode', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_COMPACTION_WORKER_EXIT: { meaning: 'the compaction worker thread ended without being stopped', answered: { log: true }, docs: [OPS] },
  HUB_ERR_JOURNAL_FULL: { meaning: 'the ingest journal cannot be written: the disk is full', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_JOURNAL_READONLY: { meaning: 'the ingest journal cannot be written: read-only file system or no permission', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_JOURNAL_IO: { meaning: 'an I/O error on the ingest journal', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_JOURNAL_CORRUPT: { meaning: 'an ingest journal segment does not decode, or another process drained it', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_METRIC_NAME: { meaning: 'an invalid metric or label name', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_METRIC_DUPLICATE: { meaning: 'a metric name registered twice', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_METRIC_LABELS: { meaning: 'labels other than the declared label names', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_METRIC_BUCKETS: { meaning: 'invalid histogram buckets', answered: { thrown: true }, docs: [OPS] },
  HUB_ERR_METRIC_VALUE: { meaning: 'an invalid metric value', answered: { thrown: true }, docs: [OPS] },
} as const satisfies Record<`${'HUB' | 'PROTO'}_ERR_${string}`, ErrorCodeEntry>;

type Registry = typeof ERROR_CODES;
export type ErrorCode = keyof Registry;
export type HubErrorCode = Extract<ErrorCode, `HUB_ERR_${string}`>;
export type ProtocolErrorCode = Extract<ErrorCode, `PROTO_ERR_${string}`>;
/** Codes answered with `kind`. */
type AnsweredWith<K extends 'close' | 'upgrade' | 'http'> = {
  [C in ErrorCode]: Registry[C]['answered'] extends Record<K, number> ? C : never;
}[ErrorCode];
/** Hub codes that end a device session with ERROR and a close code. */
export type SessionErrorCode = Extract<AnsweredWith<'close'>, HubErrorCode>;
export type UpgradeErrorCode = AnsweredWith<'upgrade'>;
export type HttpErrorCode = AnsweredWith<'http'>;

/** `{code: number}` for every code of `prefix` answered with `kind`. */
function derive<C extends ErrorCode>(kind: 'close' | 'upgrade' | 'http', prefix: string): Readonly<Record<C, number>> {
  const table: Record<string, number> = {};
  for (const [code, entry] of Object.entries(ERROR_CODES) as [ErrorCode, ErrorCodeEntry][]) {
    const n = entry.answered[kind];
    if (code.startsWith(prefix) && n !== undefined) table[code] = n;
  }
  return Object.freeze(table) as Record<C, number>;
}

/** Close code of each decode error [FP-11.2]; ProtocolError takes its closeCode from here. */
export const PROTOCOL_ERROR_CODES = derive<ProtocolErrorCode>('close', 'PROTO_ERR_') as Readonly<Record<ProtocolErrorCode, CloseCode>>;
/** Close code of each hub error that ends a device session [FP-11.2]. */
export const SESSION_CLOSE_CODES = derive<SessionErrorCode>('close', 'HUB_ERR_') as Readonly<Record<SessionErrorCode, CloseCode>>;
/** HTTP status of each refused WebSocket upgrade [FP-2.2][FP-2.3]. */
export const UPGRADE_STATUSES = derive<UpgradeErrorCode>('upgrade', '');
/** HTTP status of each error answer of the HTTPS port's API. */
export const HTTP_STATUSES = derive<HttpErrorCode>('http', '');

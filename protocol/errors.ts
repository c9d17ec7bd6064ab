import { PROTOCOL_ERROR_CODES, type ProtocolErrorCode } from './error-codes.js';

/** The only error decode() and encode() throw: a stable code plus the WebSocket close code to send. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = PROTOCOL_ERROR_CODES[code];
  }
}

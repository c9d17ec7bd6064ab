/** The coded errors of firmware management; the API maps each code to its status, `hearth` exits 1. */
export type FirmwareErrorCode = 'HUB_ERR_UNKNOWN_FIRMWARE' | 'HUB_ERR_FIRMWARE_EXISTS' | 'HUB_ERR_UNKNOWN_DEVICE' | 'HUB_ERR_BAD_REQUEST';

export class FirmwareError extends Error {
  readonly code: FirmwareErrorCode;
  constructor(code: FirmwareErrorCode, message: string) {
    super(message);
    this.name = 'FirmwareError';
    this.code = code;
  }
}

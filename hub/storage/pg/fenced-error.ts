/**
 * A commit refused because this hub no longer owns some of its devices: another hub claimed them since
 * (their epoch moved on). Nothing of the batch was stored (issue #16 section 2, fencing).
 */
export class FencedError extends Error {
  readonly code = 'HUB_ERR_FENCED';
  /** The devices whose epoch no longer matches the fence, sorted. */
  readonly devices: readonly string[];

  constructor(devices: readonly string[]) {
    super(`HUB_ERR_FENCED: this hub no longer owns ${devices.join(', ')}; another hub claimed ${devices.length === 1 ? 'it' : 'them'} (nothing of the batch was stored)`);
    this.name = 'FencedError';
    this.devices = devices;
  }
}

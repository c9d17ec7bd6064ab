import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { DeviceClaims, HubStoreContract } from '../storage/store-contract.js';

export interface DeviceClaimerOptions {
  store: DeviceClaims & Pick<HubStoreContract, 'committedSeq'>;
  ingest: Pick<IngestPipeline, 'own'>;
  hubId: string;
  /** Told of every claim this hub made (HubCluster: hands the device over when another hub claims it). */
  onClaimed?: (deviceId: string, epoch: number) => void;
}

/**
 * One owner per device across hubs (issue #16 section 2): at each HELLO the hub claims the device, which
 * moves its ownership epoch on, and reads the sequence committed so far (another hub may have stored more
 * since this one last held it); ingest then commits the device's frames under that epoch only, so a hub
 * that lost the device can never commit for it again (FencedError).
 */
export class DeviceClaimer {
  readonly #o: DeviceClaimerOptions;

  constructor(o: DeviceClaimerOptions) {
    this.#o = o;
  }

  /** Claims `deviceId` for this hub; resolves once ingest holds the new epoch and the committed sequence. */
  readonly claim = async (deviceId: string): Promise<void> => {
    const epoch = await this.#o.store.claimDevice(deviceId, this.#o.hubId);
    const seq = await this.#o.store.committedSeq(deviceId);
    this.#o.ingest.own(deviceId, epoch, seq);
    this.#o.onClaimed?.(deviceId, epoch);
  };
}

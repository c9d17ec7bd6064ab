import type { HubConfig } from './config.js';
import { Hub } from './hub.js';
import { createLogger, type LogLevel } from './logger.js';

/** Composition root: builds the hub from a validated config, starts it, and stops it in order on SIGTERM/SIGINT. */
export async function runHub(config: HubConfig): Promise<Hub> {
  const log = createLogger(config['log.level'] as LogLevel);
  const hub = new Hub({ config, log });
  try {
    await hub.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'hub failed to start');
    await hub.stop().catch(() => undefined);
    throw err;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: committing and acknowledging what was received');
    hub.stop().then(
      // The final commit failed (the gateway logged it): what devices sent is not all stored, exit 1.
      () => process.exit(hub.ingest.stats.faulted ? 1 : 0),
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return hub;
}

// The simulator as a library: the lead's integration tests and load tests drive hubs with these.
export { SimDevice, type SimDeviceOptions, type SimDeviceEvents, type DeviceCounters, type DeviceState } from './sim-device.js';
export { Fleet, type FleetOptions, type FleetStats } from './fleet.js';
export {
  planCount,
  planMix,
  planFromCredentials,
  parseMix,
  parseScenario,
  parseCredentials,
  attachTokens,
  resolveModelName,
  PlanError,
  type DevicePlan,
  type DeviceSpec,
  type Credential,
} from './fleet-plan.js';
export { provisionDevices, apiBaseOf, ProvisionError, type ProvisionOptions, type ProvisionResult } from './provision.js';
export { DeviceConnection, deviceUrl, type ConnectionHandler, type ConnectionOptions } from './connection.js';
export { Outbox, DEFAULT_OUTBOX_BOUNDS, DEFAULT_FRAME_LIMITS, type OutboxEntry, type OutboxBounds, type FrameLimits, type OutboxSnapshot } from './outbox.js';
export { SendRecord, itemsOf, type RecordedItem } from './send-record.js';
export { StateStore, type StateStoreOptions } from './state-store.js';
export { applyRecord, parseJournal, sampleKey, type JournalRecord, type JournalLine } from './journal-record.js';
export { Backoff, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, type BackoffOptions } from './backoff.js';
export { Pacer } from './pacer.js';
export { LatencyHistogram } from './latency-histogram.js';
export { Rng } from './rng.js';
export { systemClock, type Clock, type TimerHandle } from './clock.js';
export { ManualClock } from './manual-clock.js';
export { TimerQueue } from './timer-queue.js';
export { MODELS, modelByName, thermostat, light, smartPlug, motionSensor, doorContact, airQuality } from './models/index.js';
export type { DeviceModel, ModelEvent, StepOutput, CommandReply } from './models/index.js';
export { parseSimArgs, parseDuration, UsageError, USAGE, type SimArgs } from './args.js';
export { runCli, EXIT, type CliIo, type SimSummary } from './cli.js';
export { OtaClient, type OtaClientEvents, type OtaLink } from './ota-client.js';
export { parseOtaFaults, OtaFaultError, type OtaFaults } from './ota-faults.js';

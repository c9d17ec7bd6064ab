import type { DataFrame, Frame, FrameType } from './types.js';

/** Which side may send each frame type [FP-7.3]; extension frames may come from either. */
const DIRECTION: Record<FrameType, 'device' | 'hub' | 'both'> = {
  hello: 'device',
  welcome: 'hub',
  telemetry: 'device',
  batch: 'device',
  ack: 'hub',
  command: 'hub',
  command_result: 'device',
  event: 'device',
  error: 'hub',
  extension: 'both',
  update_offer: 'hub',
  update_answer: 'device',
  update_chunk: 'hub',
  update_progress: 'device',
  update_result: 'device',
};

/** True for TELEMETRY, BATCH and EVENT: the sequenced frames stored exactly once [FP-8.1]. */
export function isDataFrame(frame: Frame): frame is DataFrame {
  return frame.type === 'telemetry' || frame.type === 'batch' || frame.type === 'event';
}

/** True when a device may send frames of this type to the hub [FP-7.3]. */
export function sentByDevice(type: FrameType): boolean {
  return DIRECTION[type] !== 'hub';
}

/** True when the hub may send frames of this type to a device [FP-7.3]. */
export function sentByHub(type: FrameType): boolean {
  return DIRECTION[type] !== 'device';
}

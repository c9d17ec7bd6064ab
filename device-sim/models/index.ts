import type { DeviceModel } from './model.js';
import { airQuality } from './air-quality.js';
import { doorContact } from './door-contact.js';
import { light } from './light.js';
import { motionSensor } from './motion-sensor.js';
import { smartPlug } from './smart-plug.js';
import { thermostat } from './thermostat.js';

/** Every simulated model by its registry name (the names `--mix` and scenarios use). */
export const MODELS: Readonly<Record<string, DeviceModel>> = Object.freeze({
  [thermostat.name]: thermostat,
  [light.name]: light,
  [smartPlug.name]: smartPlug,
  [motionSensor.name]: motionSensor,
  [doorContact.name]: doorContact,
  [airQuality.name]: airQuality,
});

/** The model registered under `name`, or undefined. */
export function modelByName(name: string): DeviceModel | undefined {
  return Object.hasOwn(MODELS, name) ? MODELS[name] : undefined;
}

export type { DeviceModel, ModelEvent, StepOutput, CommandReply } from './model.js';
export { thermostat, light, smartPlug, motionSensor, doorContact, airQuality };

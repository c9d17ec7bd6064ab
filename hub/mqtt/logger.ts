/** The logging the MQTT parts need; a pino logger satisfies it. */
export interface MqttLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};

/** A logger that drops everything, the default when none is given. */
export const SILENT_LOGGER: MqttLogger = { debug: noop, info: noop, warn: noop, error: noop };

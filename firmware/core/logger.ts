import { pino, stdTimeFunctions, type DestinationStream } from 'pino';

/** Structured, one line per event (journald collects stdout). Keys are never logged. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: { component: string } & Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel = 'info', dest: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    {
      level,
      base: { app: 'peerhub' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: ['key', 'privateKey', '*.key', '*.privateKey', 'keyPem', '*.keyPem'], remove: true },
    },
    dest as DestinationStream,
  ) as unknown as Logger;
}

/** A logger that drops everything, or records lines for assertions. */
export function silentLogger(lines?: Array<Record<string, unknown>>): Logger {
  const make = (bindings: Record<string, unknown>): Logger => {
    const rec =
      (level: string) =>
      (obj: object, msg?: string): void => {
        lines?.push({ level, ...bindings, ...obj, ...(msg === undefined ? {} : { msg }) });
      };
    return {
      debug: rec('debug'),
      info: rec('info'),
      warn: rec('warn'),
      error: rec('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}

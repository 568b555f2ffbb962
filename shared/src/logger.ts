import winston from 'winston';

/** The logger interface every module takes; winston's Logger satisfies it. */
export type Logger = winston.Logger;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'silent';

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Force JSON lines (true) or readable colour (false); defaults to JSON unless stdout is a TTY. */
  json?: boolean;
}

/**
 * The root logger of a service: JSON lines when not on a terminal (containers, pipes, tests),
 * readable colour on one. Modules take `logger.child({ module })`, tasks `child({ taskId })`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const json = options.json ?? !process.stdout.isTTY;
  const level = options.level ?? 'info';
  const format = json
    ? winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json())
    : winston.format.combine(
        winston.format.colorize(),
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.errors({ stack: true }),
        winston.format.printf(({ timestamp, level: lvl, message, service, module, ...rest }) => {
          const where = [service, module].filter(Boolean).join('/');
          const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${lvl} [${where}] ${String(message)}${extra}`;
        }),
      );
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: { service: options.service },
    format,
    transports: [new winston.transports.Console()],
  });
}

/** A logger that drops everything: for tests and library defaults. */
export const silentLogger = (): Logger => winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });

/**
 * Announces that a service is serving: the one line supervisors and test harnesses wait for,
 * `{"event":"ready", ...}` with the ports it bound. It is written at info level when info is
 * enabled and straight to stdout otherwise, so a quieter `TASKMESH_LOG_LEVEL` (warn, error,
 * silent) never hides it.
 */
export function logReady(logger: Logger, fields: Record<string, unknown>): void {
  const line = { event: 'ready', ...fields };
  if (!logger.silent && logger.isInfoEnabled()) {
    logger.info('ready', line);
    return;
  }
  const service = (logger.defaultMeta as { service?: unknown } | undefined)?.service;
  process.stdout.write(`${JSON.stringify({ level: 'info', message: 'ready', service, ...line, timestamp: new Date().toISOString() })}\n`);
}

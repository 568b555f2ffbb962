/**
 * Renders one output line of a child process for the runner's terminal: the service name padded
 * to a common width (coloured on a TTY), then the line. JSON log lines are shown readably as
 * level, message and a few fields instead of raw JSON.
 */

export interface LineFormatOptions {
  /** Width the service names are padded to. */
  width: number;
  /** ANSI colours (a terminal) or plain text (a pipe, a file). */
  color: boolean;
  /** Most extra fields shown after the message. */
  maxFields?: number;
}

const PALETTE = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94] as const;
const LEVEL_COLORS: Record<string, number> = { error: 31, warn: 33, info: 32, debug: 90 };
/** Fields every line carries or that the prefix already shows. */
const HIDDEN = new Set(['level', 'message', 'msg', 'timestamp', 'time', 'service']);

const paint = (on: boolean, code: number, text: string): string => (on ? `\u001b[${code}m${text}\u001b[0m` : text);

/** A stable colour per service name, so a service keeps its colour across restarts. */
export function colorOf(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

function renderValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) || value === '' ? JSON.stringify(value) : value;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The readable form of a JSON log line, or undefined when the line is not one. */
export function renderJsonLine(text: string, color: boolean, maxFields = 4): string | undefined {
  if (!text.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const record = parsed as Record<string, unknown>;
  const level = typeof record.level === 'string' ? record.level : 'info';
  const message = record.message ?? record.msg ?? '';
  const fields = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined && v !== null)
    .slice(0, maxFields)
    .map(([k, v]) => `${paint(color, 90, `${k}=`)}${renderValue(v)}`);
  const head = `${paint(color, LEVEL_COLORS[level] ?? 37, level.padEnd(5))} ${typeof message === 'string' ? message : JSON.stringify(message)}`;
  return fields.length > 0 ? `${head} ${fields.join(' ')}` : head;
}

/** The full terminal line: `name | text`. */
export function formatLine(service: string, text: string, options: LineFormatOptions): string {
  const prefix = paint(options.color, colorOf(service), service.padEnd(options.width));
  const body = renderJsonLine(text, options.color, options.maxFields) ?? text;
  return `${prefix} ${paint(options.color, 90, '|')} ${body}`;
}

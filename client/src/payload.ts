import { HASH_ALGORITHMS, HASH_ENCODINGS, IMAGE_FORMATS, IMAGE_MAX_SIDE, IMAGE_MIN_SIDE } from '@taskmesh/shared';
import { usageError } from './exit-codes.js';

/**
 * Turns `taskmesh submit <type> [payload...]` arguments into a task payload. Pure: no I/O, so
 * every shorthand is unit-tested. A single argument that looks like JSON (`{...}`) is the payload
 * itself; otherwise each built-in type has a shorthand (`submit sum 1 2 3`).
 */
export interface PayloadOptions {
  algorithm?: string;
  encoding?: string;
  width?: string | number;
  height?: string | number;
  text?: string;
  format?: string;
}

// The limits are the types' own (shared/src/task-types), so the shorthand and the worker agree.

/** Which options belong to which type, so a misplaced one is an error rather than ignored. */
const OPTION_TYPES: Record<keyof PayloadOptions, string> = {
  algorithm: 'hash',
  encoding: 'hash',
  width: 'image',
  height: 'image',
  text: 'image',
  format: 'image',
};

/** Usage lines of each shorthand, used in error messages and --help. */
export const SHORTHANDS: Record<string, string> = {
  reverse: 'reverse <text...>',
  upper: 'upper <text...>',
  hash: 'hash <text...> [--algorithm sha256|sha1|sha512|md5] [--encoding hex|base64]',
  sum: 'sum <number...>',
  wait: 'wait <ms>',
  image: 'image [--text <text>] [--width <px>] [--height <px>] [--format png|jpeg] [--out <file>]',
};

const looksLikeJson = (s: string): boolean => /^\s*[{[]/.test(s);

/** Parses the payload arguments of `submit` for a task type. Throws a usage error naming the bad part. */
export function parsePayload(type: string, args: readonly string[], options: PayloadOptions = {}): unknown {
  for (const key of Object.keys(options) as Array<keyof PayloadOptions>) {
    if (options[key] !== undefined && OPTION_TYPES[key] !== type) {
      throw usageError(`--${key} applies only to ${OPTION_TYPES[key]} tasks, not ${type}`);
    }
  }
  if (args.length === 1 && looksLikeJson(args[0]!)) return withOptions(type, parseJsonPayload(args[0]!), options);
  switch (type) {
    case 'reverse':
    case 'upper':
      return { text: requireText(type, args) };
    case 'hash':
      return withOptions(type, { text: requireText(type, args) }, options);
    case 'sum':
      return { numbers: parseNumbers(args) };
    case 'wait':
      return { ms: parseWaitMs(args) };
    case 'image':
      return withOptions(type, args.length > 0 ? { text: args.join(' ') } : {}, options);
    default:
      if (args.length === 0) return {};
      throw usageError(`no shorthand for task type "${type}": give the payload as JSON, e.g. '{"key":"value"}'`);
  }
}

/** Parses a JSON payload argument; it must be an object. */
export function parseJsonPayload(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError(`payload is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usageError('payload must be a JSON object, e.g. \'{"text":"hi"}\'');
  }
  return value as Record<string, unknown>;
}

function requireText(type: string, args: readonly string[]): string {
  if (args.length === 0) throw usageError(`${type} needs text: taskmesh submit ${SHORTHANDS[type]}`);
  return args.join(' ');
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * One `sum` operand. Integers beyond the safe range stay strings so the worker can add them
 * exactly; everything else becomes a number.
 */
export function parseNumber(word: string): number | string {
  if (!NUMBER.test(word)) throw usageError(`sum: "${word}" is not a number`);
  const n = Number(word);
  if (INTEGER.test(word)) return Number.isSafeInteger(n) ? n : word.replace(/^\+/, '');
  if (!Number.isFinite(n)) throw usageError(`sum: "${word}" is out of range`);
  return n;
}

/** `sum` operands: separated by spaces or commas (`1 2 3`, `1,2,3`). */
export function parseNumbers(args: readonly string[]): Array<number | string> {
  const words = args.flatMap((a) => a.split(/[\s,]+/)).filter((w) => w !== '');
  if (words.length === 0) throw usageError(`sum needs at least one number: taskmesh submit ${SHORTHANDS.sum}`);
  return words.map(parseNumber);
}

function parseWaitMs(args: readonly string[]): number {
  if (args.length !== 1) throw usageError(`wait takes one duration in milliseconds: taskmesh submit ${SHORTHANDS.wait}`);
  const word = args[0]!;
  const ms = Number(word);
  if (!/^\d+$/.test(word) || !Number.isSafeInteger(ms)) throw usageError(`wait: "${word}" is not a whole number of milliseconds`);
  return ms;
}

function parseSide(name: 'width' | 'height', value: string | number): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < IMAGE_MIN_SIDE || n > IMAGE_MAX_SIDE) {
    throw usageError(`--${name}: "${value}" is not a whole number of pixels from ${IMAGE_MIN_SIDE} to ${IMAGE_MAX_SIDE}`);
  }
  return n;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw usageError(`--${name}: "${value}" is not one of ${allowed.join(', ')}`);
  return value as T;
}

/** Applies the type's options onto a payload object; options win over JSON fields. */
function withOptions(type: string, payload: Record<string, unknown>, options: PayloadOptions): Record<string, unknown> {
  const out = { ...payload };
  if (type === 'hash') {
    if (options.algorithm !== undefined) out.algorithm = oneOf('algorithm', options.algorithm, HASH_ALGORITHMS);
    if (options.encoding !== undefined) out.encoding = oneOf('encoding', options.encoding, HASH_ENCODINGS);
  }
  if (type === 'image') {
    if (options.text !== undefined) out.text = options.text;
    if (options.width !== undefined) out.width = parseSide('width', options.width);
    if (options.height !== undefined) out.height = parseSide('height', options.height);
    if (options.format !== undefined) out.format = oneOf('format', options.format, IMAGE_FORMATS);
  }
  return out;
}

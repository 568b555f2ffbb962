/**
 * JSON already rendered, as the pieces it was put together from. Where a value goes out again (a
 * task message, a journal record, an HTTP answer) its text is spliced in as it is, so a megabyte
 * payload is serialised once per task rather than once per place it goes, and its pieces are
 * encoded one by one rather than first joined into one more megabyte string. `toJSON` keeps a
 * JsonText correct anywhere else it is serialised, at the cost of parsing it.
 */
export class JsonText {
  constructor(readonly parts: readonly string[]) {}

  get text(): string {
    return this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
  }

  /** What to write out: see textOrBytes. */
  output(): string | Buffer {
    return textOrBytes(this.parts);
  }

  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * `JSON.stringify(object)` with fields whose JSON is known spliced in as text, as pieces: `object`
 * holds the other fields (its own JSON must be an object), `raw` the field names and their JSON.
 */
export function jsonWith(object: object, raw: ReadonlyArray<readonly [string, string]>): string[] {
  const head = JSON.stringify(object);
  if (raw.length === 0) return [head];
  // "{}" has no field before the first spliced one.
  const parts = [head.length === 2 ? '{' : `${head.slice(0, -1)},`];
  raw.forEach(([name, text], i) => parts.push(`${i === 0 ? '' : ','}"${name}":`, text));
  parts.push('}');
  return parts;
}

/** Past this many characters, pieces are encoded one by one and the bytes joined (no joined string). */
const JOIN_AS_BYTES_CHARS = 64 * 1024;

/**
 * Pieces of text ready to write out (to a socket, a store): short ones as one string, which the
 * writer encodes natively (the cheapest way for a short value), long ones as their UTF-8 bytes,
 * encoded a piece at a time rather than first joined into one more long string.
 */
export function textOrBytes(parts: readonly string[]): string | Buffer {
  let chars = 0;
  for (const part of parts) chars += part.length;
  if (chars < JOIN_AS_BYTES_CHARS) return parts.join('');
  return parts.length === 1 ? Buffer.from(parts[0]!, 'utf8') : Buffer.concat(parts.map((part) => Buffer.from(part, 'utf8')));
}

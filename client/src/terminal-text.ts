/**
 * Control characters a terminal acts on: C0 but tab and newline (ESC starts escape sequences, CR
 * and BS overwrite what was printed), DEL, C1 (0x9b is a one-byte CSI), and the bidirectional
 * overrides that reorder what is shown.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text as the CLI prints it: results, errors and names come from other people's tasks and
 * workers, and an escape sequence in one must not reach the operator's terminal (to retitle it,
 * rewrite what was shown above, or worse). Each control character is shown escaped (`\x1b`,
 * `\u202e`), so nothing is hidden; `--raw` prints the bytes as they came.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

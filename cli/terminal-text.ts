/**
 * Control characters that must never reach an operator's terminal from data a device or
 * anyone else supplied: C0 controls except tab and newline (ESC starts escape sequences that
 * can rewrite the screen, set the title or worse), DEL, C1 controls (0x9B is a one-byte CSI),
 * and Unicode bidirectional overrides that make text read differently from what it is.
 */
function isUnsafe(code: number): boolean {
  if (code === 0x09 || code === 0x0a) return false;
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * Text safe to print on a terminal: every unsafe control character becomes `?`. Every CLI
 * table and human-readable line that can hold reported or user-supplied text goes through it
 * (JSON output is already escaped by `JSON.stringify`).
 */
export function terminalSafe(text: string): string {
  let out = '';
  for (const char of text) out += isUnsafe(char.codePointAt(0) ?? 0) ? '?' : char;
  return out;
}

import { OutpostError } from './errors.js';

/**
 * Canonical JSON in the manner of RFC 8785 (JCS): object keys sorted by UTF-16 code units,
 * no insignificant whitespace, numbers in ECMAScript's shortest round-trip form, `undefined`
 * object members omitted. Throws `PROTO_NOT_CANONICAL` for values JSON cannot carry
 * faithfully (non-finite numbers, bigints, functions, symbols, undefined array items).
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value))
        throw new OutpostError('PROTO_NOT_CANONICAL', `${path}: ${value} is not finite`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value
          .map((item, i) => {
            if (item === undefined) throw new OutpostError('PROTO_NOT_CANONICAL', `${path}[${i}]: undefined`);
            return write(item, `${path}[${i}]`);
          })
          .join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new OutpostError('PROTO_NOT_CANONICAL', `${path}: only plain objects can be canonicalised`);
      }
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${write(v, `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new OutpostError('PROTO_NOT_CANONICAL', `${path}: a ${typeof value} cannot be written as JSON`);
  }
}

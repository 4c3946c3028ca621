import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import {
  AGENT_BUNDLE_INFO_FILE,
  type AgentBundleInfo,
  AgentBundleInfoSchema,
  formatIssues,
  OutpostError,
} from '../../shared/index.js';

/** How far into a bundle its info file is looked for: entries and decompressed bytes. */
const MAX_ENTRIES = 8;
const MAX_BYTES = 4 * 1024 * 1024;

const invalid = (message: string) => new OutpostError('HUB_AGENT_BUNDLE_INVALID', message);

/** A NUL-terminated ASCII field of a tar header. */
function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

/**
 * Reads `outpost-bundle.json` from a bundle (a gzipped tar; `outpost agents bundle` writes
 * that file first) without unpacking anything else: the release, platform and entry point
 * the hub signs. Throws `HUB_AGENT_BUNDLE_INVALID` naming what is wrong.
 */
export async function readBundleInfo(file: string): Promise<AgentBundleInfo> {
  let buffered = Buffer.alloc(0);
  let consumed = 0;
  const stream = createReadStream(file).pipe(createGunzip());
  try {
    let entries = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (buffered.length < 512) break;
        const header = buffered.subarray(0, 512);
        if (header.every((b) => b === 0)) throw invalid(`no ${AGENT_BUNDLE_INFO_FILE} in the bundle`);
        // POSIX ustar keeps a path prefix at 345; GNU tar's format has other fields there.
        const posix = header.subarray(257, 263).toString('latin1') === 'ustar\0';
        const prefix = posix ? field(header, 345, 155) : '';
        const name = `${prefix}${prefix ? '/' : ''}${field(header, 0, 100)}`;
        const size = Number.parseInt(field(header, 124, 12).trim() || '0', 8);
        if (!Number.isFinite(size) || size < 0) throw invalid('the bundle is not a valid tar');
        const padded = Math.ceil(size / 512) * 512;
        if (buffered.length < 512 + padded) break;
        const type = String.fromCharCode(header[156] ?? 0);
        if ((type === '0' || type === '\0') && name.replace(/^\.\//, '') === AGENT_BUNDLE_INFO_FILE) {
          const text = buffered.subarray(512, 512 + size).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch (err) {
            throw invalid(`${AGENT_BUNDLE_INFO_FILE} is not JSON: ${(err as Error).message}`);
          }
          const parsed = AgentBundleInfoSchema.safeParse(json);
          if (!parsed.success)
            throw invalid(`${AGENT_BUNDLE_INFO_FILE}: ${formatIssues(parsed.error).join('; ')}`);
          return parsed.data;
        }
        buffered = buffered.subarray(512 + padded);
        consumed += 512 + padded;
        if (++entries >= MAX_ENTRIES || consumed > MAX_BYTES)
          throw invalid(`no ${AGENT_BUNDLE_INFO_FILE} among the first entries of the bundle`);
      }
      if (consumed + buffered.length > MAX_BYTES + 512 * 2)
        throw invalid(`no ${AGENT_BUNDLE_INFO_FILE} among the first entries of the bundle`);
    }
    throw invalid(`no ${AGENT_BUNDLE_INFO_FILE} in the bundle`);
  } catch (err) {
    if (err instanceof OutpostError) throw err;
    throw invalid(`the bundle is not a gzipped tar: ${(err as Error).message}`);
  } finally {
    stream.destroy();
  }
}

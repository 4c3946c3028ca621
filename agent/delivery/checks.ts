import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { statfs } from 'node:fs/promises';
import {
  type DesiredModel,
  type Manifest,
  OutpostError,
  PRECISIONS,
  verifySignedManifest,
} from '../../shared/index.js';

/**
 * Verifies every signed manifest of a desired entry against the trusted keys and checks that
 * each describes exactly `entry.name@entry.version` (a manifest of another version replayed
 * under this entry is refused). Throws `PROTO_UNTRUSTED_KEY`, `PROTO_BAD_SIGNATURE`,
 * `PROTO_INVALID_PAYLOAD` or `AGENT_MANIFEST_MISMATCH`.
 */
export function verifiedManifests(
  entry: { name: string; version: string; manifests: DesiredModel['manifests'] },
  trustedKeys: readonly string[],
): Manifest[] {
  if (trustedKeys.length === 0) {
    throw new OutpostError(
      'PROTO_UNTRUSTED_KEY',
      'no trusted hub keys are configured (delivery.trustedKeys)',
    );
  }
  return entry.manifests.map((signed) => {
    const manifest = verifySignedManifest(signed, trustedKeys);
    if (manifest.name !== entry.name || manifest.version !== entry.version) {
      throw new OutpostError(
        'AGENT_MANIFEST_MISMATCH',
        `a manifest of ${manifest.name}@${manifest.version} was sent for ${entry.name}@${entry.version}`,
      );
    }
    return manifest;
  });
}

/** -1, 0 or 1 as semver `a` is lower, equal or higher than `b` (pre-releases below releases). */
export function compareSemver(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]?.split(/-(.*)/s) ?? [];
    return { nums: core.split('.').map(Number), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  const xs = x.pre.split('.');
  const ys = y.pre.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    const p = xs[i];
    const q = ys[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * The variants to try, best first: the profile's precision order, then the formats one of the
 * profile's engines can read (`onnx` for onnx engines, `tfjs-*` for tfjs ones).
 */
export function rankVariants(
  manifests: readonly Manifest[],
  precisionOrder: readonly string[],
  runtimes: ReadonlySet<'onnx' | 'tfjs'>,
): Manifest[] {
  const rank = (m: Manifest) => {
    const i = precisionOrder.indexOf(m.precision);
    return i >= 0 ? i : precisionOrder.length + PRECISIONS.indexOf(m.precision);
  };
  return manifests
    .filter((m) => runtimes.has(m.format === 'onnx' ? 'onnx' : 'tfjs'))
    .sort((a, b) => rank(a) - rank(b));
}

/** Throws `AGENT_DISK_FULL` unless the filesystem of `dir` has `needed` bytes free. */
export async function assertFreeDisk(dir: string, needed: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < needed) {
    throw new OutpostError(
      'AGENT_DISK_FULL',
      `${needed} bytes needed to stage and install the artifact, ${free} free on the disk of ${dir}`,
    );
  }
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

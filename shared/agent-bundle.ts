import { z } from 'zod';
import { formatIssues } from './codec.js';
import { OutpostError } from './errors.js';
import { SemverSchema, Sha256Schema } from './manifest.js';
import { type SigningKeyPair, signCanonical, verifyCanonical } from './signing.js';

/**
 * The platform an agent bundle's production dependencies were installed for: native addons
 * (better-sqlite3, onnxruntime-node) only load on the same os, arch, C library and Node ABI
 * (`process.versions.modules`).
 */
export const BundlePlatformSchema = z.strictObject({
  os: z.string().min(1).max(32),
  arch: z.string().min(1).max(32),
  libc: z.enum(['glibc', 'musl', 'none']),
  nodeAbi: z.string().regex(/^\d{1,4}$/),
});
export type BundlePlatform = z.infer<typeof BundlePlatformSchema>;

/** What an agent release bundle is: content-addressed (`sha256`, `size`) and made for one platform. */
export const AgentBundleManifestSchema = z.strictObject({
  kind: z.literal('agent'),
  version: SemverSchema,
  sha256: Sha256Schema,
  size: z.number().int().positive(),
  platform: BundlePlatformSchema,
  /** Wall clock when the bundle was made, ms. */
  createdAt: z.number().int().nonnegative(),
});
export type AgentBundleManifest = z.infer<typeof AgentBundleManifestSchema>;

/** A bundle manifest with the hub's ed25519 signature over its canonical JSON (as for models). */
export const SignedAgentBundleSchema = z.strictObject({
  manifest: AgentBundleManifestSchema,
  signature: z.strictObject({
    alg: z.literal('ed25519'),
    keyId: z.string().regex(/^[0-9a-f]{16}$/),
    sig: z.string().min(1).max(256),
  }),
});
export type SignedAgentBundle = z.infer<typeof SignedAgentBundleSchema>;

/** Signs a (validated) bundle manifest. */
export function signAgentBundle(manifest: AgentBundleManifest, keys: SigningKeyPair): SignedAgentBundle {
  const valid = AgentBundleManifestSchema.parse(manifest);
  return { manifest: valid, signature: signCanonical(valid, keys) };
}

/**
 * Verifies a signed bundle manifest against trusted keys and returns the manifest; throws
 * `PROTO_INVALID_PAYLOAD`, `PROTO_UNTRUSTED_KEY` or `PROTO_BAD_SIGNATURE`.
 */
export function verifyAgentBundle(
  signed: unknown,
  trustedPublicKeysPem: readonly string[],
): AgentBundleManifest {
  const parsed = SignedAgentBundleSchema.safeParse(signed);
  if (!parsed.success) throw new OutpostError('PROTO_INVALID_PAYLOAD', formatIssues(parsed.error).join('; '));
  const { manifest, signature } = parsed.data;
  verifyCanonical(manifest, signature, trustedPublicKeysPem, `agent bundle ${manifest.version}`);
  return manifest;
}

/** The platform this process runs on, as bundles name it. */
export function currentPlatform(): BundlePlatform {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  const libc = process.platform !== 'linux' ? 'none' : header?.glibcVersionRuntime ? 'glibc' : 'musl';
  return { os: process.platform, arch: process.arch, libc, nodeAbi: process.versions.modules };
}

/** Why a bundle for `bundle` cannot run on `host`, or undefined when it can. */
export function platformMismatch(bundle: BundlePlatform, host: BundlePlatform): string | undefined {
  const differ = (Object.keys(host) as Array<keyof BundlePlatform>).filter((k) => bundle[k] !== host[k]);
  if (differ.length === 0) return undefined;
  return differ.map((k) => `${k} ${bundle[k]} (this device: ${host[k]})`).join(', ');
}

/** The file at the root of every bundle (its first entry) that says what the bundle is. */
export const AGENT_BUNDLE_INFO_FILE = 'outpost-bundle.json';

/** Where the agent's CLI lives in a bundle built from the npm package. */
export const DEFAULT_BUNDLE_ENTRY = 'package/dist/cli/main.js';

/**
 * `outpost-bundle.json`: the release a bundle holds, the platform its production
 * dependencies were installed for, and its entry point (run as `node ENTRY agent …`). The hub
 * reads it from the pushed bytes to make the signed manifest.
 */
export const AgentBundleInfoSchema = z.strictObject({
  kind: z.literal('agent'),
  version: SemverSchema,
  platform: BundlePlatformSchema,
  entry: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be a relative path inside the bundle')
    .refine((p) => !p.split('/').includes('..'), 'must stay inside the bundle')
    .default(DEFAULT_BUNDLE_ENTRY),
});
export type AgentBundleInfo = z.output<typeof AgentBundleInfoSchema>;

/** `os/arch/libc/abi`, e.g. `linux/x64/glibc/115`: how a platform is written in lists and flags. */
export function formatPlatform(p: BundlePlatform): string {
  return `${p.os}/${p.arch}/${p.libc}/${p.nodeAbi}`;
}

/** Parses {@link formatPlatform}'s form; throws naming what is wrong. */
export function parsePlatform(text: string): BundlePlatform {
  const [os, arch, libc, nodeAbi, ...rest] = text.split('/');
  const parsed = BundlePlatformSchema.safeParse({ os, arch, libc, nodeAbi });
  if (rest.length > 0 || !parsed.success)
    throw new Error(`platform "${text}" is not OS/ARCH/LIBC/NODE_ABI, e.g. linux/x64/glibc/115`);
  return parsed.data;
}

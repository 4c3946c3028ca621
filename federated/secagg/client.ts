import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { agree, generatePair, pairFromRaw, type X25519Pair } from './keys.js';
import {
  type Advertisement,
  b64,
  type EncryptedShares,
  parseSecAggParams,
  type Roster,
  type SecAggParams,
  type SecAggParamsSchema,
  type UnmaskResponse,
  unb64,
} from './messages.js';
import { deriveKey, encodeFixed, prgWords, ringAdd } from './ring.js';
import { type Share, split } from './shamir.js';

const fail = (m: string) => new OutpostError('FL_SECAGG_FAILED', m);

/** Checks a roster: sorted, distinct ids, at least t members, `self` in it. */
export function checkRoster(roster: Roster, threshold: number, self?: string): void {
  const ids = roster.map((r) => r.clientId);
  if (new Set(ids).size !== ids.length) throw fail('roster has duplicate client ids');
  if (ids.some((id, i) => i > 0 && (ids[i - 1] as string) >= id))
    throw fail('roster is not sorted by client id');
  if (ids.length < threshold) throw fail(`roster of ${ids.length} is below the threshold ${threshold}`);
  if (self !== undefined && !ids.includes(self)) throw fail(`${self} is not in the roster`);
}

/** Seals one plaintext for `to` under the pairwise channel key; AAD binds round, sender and recipient. */
function seal(key: Buffer, aad: string, plaintext: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return b64(Buffer.concat([iv, c.getAuthTag(), body]));
}

function open(key: Buffer, aad: string, sealed: string): Buffer {
  const raw = Buffer.from(sealed, 'base64');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
  } catch {
    throw fail(`shares from another client do not authenticate (${aad})`);
  }
}

/**
 * Everything a {@link SecAggClient} knows, secrets included (both private keys, the self-mask
 * seed, the shares others sent it), as JSON-safe values: what a device keeps on its own disk
 * to resume a round after a restart with the keys the server already holds.
 */
export interface SecAggClientState {
  clientId: string;
  params: SecAggParams;
  /** Raw x25519 halves, base64: `d` private, `x` public. */
  enc: { d: string; x: string };
  mask: { d: string; x: string };
  selfSeed: string;
  roster: Roster | null;
  /** Shares held, by the client they are of (my own included once I shared). */
  held: Array<{ of: string; x: number; sk: string; b: string }>;
  submitted: string[] | null;
  unmasked: boolean;
}

const pairOf = (p: { d: string; x: string }) => pairFromRaw(unb64(p.d), unb64(p.x));

/**
 * One client of secure aggregation (Bonawitz et al. 2017, simplified;): per
 * round two x25519 key pairs (share channel, masks) and a random self-mask seed b. Its
 * masked input is x + PRG(b) + Σ_{j>i} PRG(s_ij) − Σ_{j<i} PRG(s_ij) mod 2^32, where s_ij is
 * HKDF of the x25519 agreement with j; so the pairwise masks cancel in the sum. Its mask
 * key and b are Shamir-shared (threshold t) among the roster, each share encrypted to its
 * holder. At unmasking it reveals, for every other client, b's share if that client
 * survived and the mask key's share if it dropped — never both. Use one instance per round.
 */
export class SecAggClient {
  readonly params: SecAggParams;
  readonly #enc: X25519Pair;
  readonly #mask: X25519Pair;
  readonly #selfSeed: Uint8Array;
  #roster: Roster | null = null;
  /** Shares others sent me: of their mask key and self seed. */
  readonly #held = new Map<string, { sk: Share; b: Share }>();
  #submitted: Set<string> | null = null;
  #unmasked = false;

  /** A fresh client (new keys and seed), or, given `saved` ({@link exportState}), that client again. */
  constructor(
    readonly clientId: string,
    params: z.input<typeof SecAggParamsSchema>,
    saved?: SecAggClientState,
  ) {
    this.params = parseSecAggParams(params);
    if (saved === undefined) {
      this.#enc = generatePair();
      this.#mask = generatePair();
      this.#selfSeed = randomBytes(32);
      return;
    }
    if (saved.clientId !== clientId) throw fail(`saved state of ${saved.clientId}, not ${clientId}`);
    if (saved.params.round !== this.params.round || saved.params.length !== this.params.length)
      throw fail(`saved state of round ${saved.params.round}, not ${this.params.round}`);
    this.#enc = pairOf(saved.enc);
    this.#mask = pairOf(saved.mask);
    this.#selfSeed = unb64(saved.selfSeed);
    this.#roster = saved.roster;
    for (const h of saved.held)
      this.#held.set(h.of, { sk: { x: h.x, y: unb64(h.sk) }, b: { x: h.x, y: unb64(h.b) } });
    this.#submitted = saved.submitted === null ? null : new Set(saved.submitted);
    this.#unmasked = saved.unmasked;
  }

  /** The whole state, secrets included (keep it where the device keeps its own secret). */
  exportState(): SecAggClientState {
    const raw = (p: X25519Pair) => ({ d: b64(p.privateRaw), x: b64(p.publicRaw) });
    return {
      clientId: this.clientId,
      params: this.params,
      enc: raw(this.#enc),
      mask: raw(this.#mask),
      selfSeed: b64(this.#selfSeed),
      roster: this.#roster,
      held: [...this.#held].map(([of, h]) => ({ of, x: h.sk.x, sk: b64(h.sk.y), b: b64(h.b.y) })),
      submitted: this.#submitted === null ? null : [...this.#submitted],
      unmasked: this.#unmasked,
    };
  }

  /** Step 1: the public keys to send to the server. */
  advertise(): Advertisement {
    return {
      clientId: this.clientId,
      encPublicKey: b64(this.#enc.publicRaw),
      maskPublicKey: b64(this.#mask.publicRaw),
    };
  }

  #channelKey(peer: Advertisement): Buffer {
    return deriveKey(
      agree(this.#enc.privateKey, unb64(peer.encPublicKey)),
      this.params.round,
      'share-channel',
    );
  }

  /** Step 2: Shamir shares of my mask key and self seed, one sealed message per other roster member. */
  shareKeys(roster: Roster): EncryptedShares[] {
    if (this.#roster) throw fail('shareKeys was already called this round');
    checkRoster(roster, this.params.threshold, this.clientId);
    this.#roster = roster;
    const n = roster.length;
    const skShares = split(this.#mask.privateRaw, n, this.params.threshold);
    const bShares = split(this.#selfSeed, n, this.params.threshold);
    const out: EncryptedShares[] = [];
    roster.forEach((peer, i) => {
      const sk = skShares[i] as Share;
      const b = bShares[i] as Share;
      if (peer.clientId === this.clientId) {
        this.#held.set(this.clientId, { sk, b });
        return;
      }
      const plaintext = Buffer.from(JSON.stringify({ x: sk.x, sk: b64(sk.y), b: b64(b.y) }));
      const aad = `${this.params.round}|${this.clientId}|${peer.clientId}`;
      out.push({
        from: this.clientId,
        to: peer.clientId,
        ciphertext: seal(this.#channelKey(peer), aad, plaintext),
      });
    });
    return out;
  }

  /**
   * Step 3: stores the shares addressed to me (from the clients the server says submitted
   * theirs, `submitted`), then returns my masked input. Masks are agreed with exactly the
   * `submitted` clients. `values` must have `length` entries within ±maxAbs.
   */
  maskedInput(values: Float32Array, inbox: EncryptedShares[], submitted: string[]): Uint32Array {
    const roster = this.#roster;
    if (!roster) throw fail('maskedInput before shareKeys');
    if (this.#submitted) throw fail('maskedInput was already called this round');
    if (values.length !== this.params.length)
      throw fail(`${values.length} values; the round aggregates ${this.params.length}`);
    const y = encodeFixed(values, this.params.scale, this.params.maxAbs); // refuses out-of-range values first
    const byId = new Map(roster.map((r) => [r.clientId, r]));
    const u2 = new Set(submitted);
    if (!u2.has(this.clientId)) throw fail(`${this.clientId} is not among the clients that shared keys`);
    if (u2.size < this.params.threshold)
      throw fail(`${u2.size} clients shared keys; the threshold is ${this.params.threshold}`);
    for (const id of u2) if (!byId.has(id)) throw fail(`${id} shared keys but is not in the roster`);
    for (const m of inbox) {
      const peer = byId.get(m.from);
      if (m.to !== this.clientId || !peer || !u2.has(m.from))
        throw fail(`unexpected shares from ${m.from} to ${m.to}`);
      const p = JSON.parse(
        open(this.#channelKey(peer), `${this.params.round}|${m.from}|${m.to}`, m.ciphertext).toString(),
      ) as { x: number; sk: string; b: string };
      this.#held.set(m.from, { sk: { x: p.x, y: unb64(p.sk) }, b: { x: p.x, y: unb64(p.b) } });
    }
    const missing = [...u2].filter((id) => !this.#held.has(id));
    if (missing.length > 0) throw fail(`no shares received from ${missing.join(', ')}`);
    this.#submitted = u2;
    ringAdd(y, prgWords(deriveKey(this.#selfSeed, this.params.round, 'self-mask'), this.params.length), 1);
    for (const id of u2) {
      if (id === this.clientId) continue;
      const peer = byId.get(id) as Advertisement;
      const seed = deriveKey(
        agree(this.#mask.privateKey, unb64(peer.maskPublicKey)),
        this.params.round,
        'pair-mask',
      );
      ringAdd(y, prgWords(seed, this.params.length), this.clientId < id ? 1 : -1);
    }
    return y;
  }

  /**
   * Step 4: given the clients whose masked inputs the server received (`survivors`), reveal
   * b's share for each survivor and the mask key's share for each client that shared keys
   * but dropped. Refuses fewer than t survivors, a survivor that never shared keys, or a
   * second call (either could let the server learn one client's input).
   */
  unmask(survivors: string[]): UnmaskResponse {
    const u2 = this.#submitted;
    if (!u2) throw fail('unmask before maskedInput');
    if (this.#unmasked) throw fail('unmask was already answered this round');
    const u3 = new Set(survivors);
    if (!u3.has(this.clientId)) throw fail(`${this.clientId} is not among the survivors`);
    if (u3.size < this.params.threshold)
      throw fail(`${u3.size} survivors; the threshold is ${this.params.threshold}`);
    for (const id of u3) if (!u2.has(id)) throw fail(`survivor ${id} never shared keys`);
    this.#unmasked = true;
    const shares: UnmaskResponse['shares'] = [];
    for (const id of u2) {
      const held = this.#held.get(id) as { sk: Share; b: Share };
      shares.push(
        u3.has(id)
          ? { of: id, kind: 'b', x: held.b.x, y: b64(held.b.y) }
          : { of: id, kind: 'sk', x: held.sk.x, y: b64(held.sk.y) },
      );
    }
    return { from: this.clientId, shares };
  }
}

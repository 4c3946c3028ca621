import type { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { checkRoster } from './client.js';
import { agree, privateFromRaw } from './keys.js';
import {
  type Advertisement,
  type EncryptedShares,
  parseSecAggParams,
  type Roster,
  type SecAggParams,
  type SecAggParamsSchema,
  type UnmaskResponse,
  unb64,
} from './messages.js';
import { decodeFixed, deriveKey, prgWords, ringAdd } from './ring.js';
import { combine, type Share } from './shamir.js';

const fail = (m: string) => new OutpostError('FL_SECAGG_FAILED', m);

/** What {@link SecAggServer.finish} returns. */
export interface SecAggResult {
  /** Σ of the survivors' values (fixed-point error ≤ survivors / (2·scale) per entry). */
  sum: Float32Array;
  /** Clients whose inputs are in the sum. */
  survivors: string[];
  /** Clients that shared keys but whose masked input never arrived; their masks were removed. */
  dropped: string[];
}

/**
 * The checks {@link SecAggServer} applies to each message on its own (shape, membership), for
 * a server whose state lives elsewhere (the hub checks a device message against the stored
 * round before storing it): each throws `FL_SECAGG_FAILED` naming the problem.
 */
export function checkAdvertisement(ad: Advertisement): void {
  if (unb64(ad.encPublicKey).length !== 32 || unb64(ad.maskPublicKey).length !== 32)
    throw fail(`${ad.clientId}: public keys must be 32 bytes`);
}

/** `from`'s share messages: exactly one to every other roster member (see {@link checkAdvertisement}). */
export function checkShares(roster: Roster, from: string, messages: readonly EncryptedShares[]): void {
  if (!roster.some((r) => r.clientId === from)) throw fail(`${from} is not in the roster`);
  const expected = roster.filter((r) => r.clientId !== from).map((r) => r.clientId);
  const to = messages.map((m) => m.to).sort();
  if (messages.some((m) => m.from !== from) || to.join('\n') !== expected.join('\n')) {
    throw fail(`${from} must send exactly one share message to every other roster member`);
  }
}

/** An unmasking answer: from a survivor (see {@link checkAdvertisement}). */
export function checkUnmasking(survivors: readonly string[], response: UnmaskResponse): void {
  if (!survivors.includes(response.from)) throw fail(`${response.from} is not a survivor`);
}

/**
 * The server side of secure aggregation (see {@link SecAggClient}). It relays messages and
 * learns only the sum of the survivors' inputs: it never sees a single unmasked input as long
 * as fewer than t clients collude with it and it follows the protocol. Phases run in order:
 * advertisements → roster → shares → inboxes → masked inputs → survivors → unmasking → finish.
 * Late messages for a closed phase are refused (`FL_SECAGG_FAILED`), never folded in: a masked
 * input arriving after its sender was declared dropped must not be combined with the mask-key
 * shares already revealed.
 *
 * Masked inputs are not kept: each is added, once checked, into one running sum over
 * Z/2^32 (addition there is associative and commutative, so the unmasking in
 * {@link SecAggServer.finish} is the same as over the inputs summed at the end), and only the
 * ids of the clients in that sum are kept. The server holds one input-sized sum however many
 * clients mask ({@link SecAggServer.maskedBytesHeld}); the caller may reuse or drop an input
 * once it was received.
 */
export class SecAggServer {
  readonly params: SecAggParams;
  readonly #ads = new Map<string, Advertisement>();
  #roster: Roster | null = null;
  readonly #shares = new Map<string, EncryptedShares[]>();
  #u2: string[] | null = null;
  /** Σ of the masked inputs received (Z/2^32), allocated with the first one. */
  #sum: Uint32Array | null = null;
  /** The clients whose masked input is in {@link #sum}. */
  readonly #masked = new Set<string>();
  #u3: string[] | null = null;
  readonly #responses = new Map<string, UnmaskResponse>();
  #result: SecAggResult | null = null;

  constructor(params: z.input<typeof SecAggParamsSchema>) {
    this.params = parseSecAggParams(params);
  }

  receiveAdvertisement(ad: Advertisement): void {
    if (this.#roster) throw fail(`advertisement from ${ad.clientId} after the roster was fixed`);
    if (this.#ads.has(ad.clientId)) throw fail(`${ad.clientId} advertised twice`);
    checkAdvertisement(ad);
    this.#ads.set(ad.clientId, ad);
  }

  /** Closes advertising; the roster every client gets (sorted by id). Needs ≥ t clients. */
  roster(): Roster {
    if (!this.#roster) {
      const roster = [...this.#ads.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
      if (roster.length > this.params.maxClients)
        throw fail(`${roster.length} clients exceed maxClients ${this.params.maxClients}`);
      checkRoster(roster, this.params.threshold);
      this.#roster = roster;
    }
    return this.#roster;
  }

  receiveShares(from: string, messages: EncryptedShares[]): void {
    const roster = this.#roster;
    if (!roster || this.#u2) throw fail(`shares from ${from} outside the sharing phase`);
    if (this.#shares.has(from)) throw fail(`${from} sent shares twice`);
    checkShares(roster, from, messages);
    this.#shares.set(from, messages);
  }

  /** Closes sharing: the clients that shared keys (U2, sorted). Needs ≥ t. */
  submitted(): string[] {
    if (!this.#u2) {
      const u2 = [...this.#shares.keys()].sort();
      if (u2.length < this.params.threshold)
        throw fail(`${u2.length} clients shared keys; the threshold is ${this.params.threshold}`);
      this.#u2 = u2;
    }
    return this.#u2;
  }

  /** The share messages addressed to `clientId` from clients in U2. */
  inboxFor(clientId: string): EncryptedShares[] {
    const u2 = this.submitted();
    return u2.flatMap((from) => (this.#shares.get(from) ?? []).filter((m) => m.to === clientId));
  }

  receiveMaskedInput(clientId: string, masked: Uint32Array): void {
    const u2 = this.#u2;
    if (!u2 || this.#u3) throw fail(`masked input from ${clientId} outside the masking phase`);
    if (!u2.includes(clientId)) throw fail(`${clientId} did not share keys this round`);
    if (this.#masked.has(clientId)) throw fail(`${clientId} sent its masked input twice`);
    if (masked.length !== this.params.length)
      throw fail(`${clientId}: ${masked.length} words, expected ${this.params.length}`);
    // Every check passed: added exactly once, and not kept.
    this.#sum ??= new Uint32Array(this.params.length);
    ringAdd(this.#sum, masked, 1);
    this.#masked.add(clientId);
  }

  /**
   * Bytes of masked data the server holds: the running sum (4 bytes per word) from the first
   * masked input until {@link SecAggServer.finish}, else 0 — the same for one client as for a
   * thousand.
   */
  get maskedBytesHeld(): number {
    return this.#sum?.byteLength ?? 0;
  }

  /** Closes masking: the survivors (U3, sorted) to send to every survivor. Needs ≥ t. */
  survivors(): string[] {
    if (!this.#u3) {
      const u3 = [...this.#masked].sort();
      if (u3.length < this.params.threshold)
        throw fail(`${u3.length} masked inputs arrived; the threshold is ${this.params.threshold}`);
      this.#u3 = u3;
    }
    return this.#u3;
  }

  receiveUnmasking(response: UnmaskResponse): void {
    const u3 = this.#u3;
    if (!u3) throw fail(`unmasking from ${response.from} before the survivors were fixed`);
    checkUnmasking(u3, response);
    if (this.#responses.has(response.from)) throw fail(`${response.from} answered unmasking twice`);
    this.#responses.set(response.from, response);
  }

  /**
   * The sum of the survivors' inputs: Σ y_i − Σ PRG(b_i) ± the dropped clients' pairwise
   * masks, rebuilt from t shares each. Throws `FL_SECAGG_FAILED` when fewer than t survivors
   * answered unmasking. Every mask seed is rebuilt before the running sum is touched, so a
   * refusal leaves it as it was; the masks are then removed from it in place (one PRG
   * expansion at a time) and the result is kept: a second call returns it again.
   */
  finish(): SecAggResult {
    if (this.#result) return this.#result;
    const u2 = this.submitted();
    const u3 = this.survivors();
    if (this.#responses.size < this.params.threshold) {
      throw fail(
        `${this.#responses.size} unmasking answers; ${this.params.threshold} needed to remove the masks`,
      );
    }
    const collect = (of: string, kind: 'b' | 'sk'): Uint8Array => {
      const shares: Share[] = [];
      for (const r of this.#responses.values()) {
        const s = r.shares.find((x) => x.of === of && x.kind === kind);
        if (s) shares.push({ x: s.x, y: unb64(s.y) });
      }
      if (shares.length < this.params.threshold)
        throw fail(`${shares.length} ${kind} shares of ${of}; ${this.params.threshold} needed`);
      return combine(shares.slice(0, this.params.threshold));
    };
    const { round, length } = this.params;
    const masks: { seed: Uint8Array; sign: 1 | -1 }[] = [];
    for (const id of u3) masks.push({ seed: deriveKey(collect(id, 'b'), round, 'self-mask'), sign: -1 });
    const roster = new Map((this.#roster ?? []).map((r) => [r.clientId, r]));
    const dropped = u2.filter((id) => !u3.includes(id));
    for (const d of dropped) {
      const ad = roster.get(d) as Advertisement;
      const key = privateFromRaw(collect(d, 'sk'), unb64(ad.maskPublicKey));
      for (const j of u3) {
        const seed = deriveKey(
          agree(key, unb64((roster.get(j) as Advertisement).maskPublicKey)),
          round,
          'pair-mask',
        );
        // Survivor j added +PRG(s_jd) when j < d and −PRG(s_jd) when j > d: take it back out.
        masks.push({ seed, sign: j < d ? -1 : 1 });
      }
    }
    // u3 has at least t ≥ 2 members, so a masked input allocated the sum.
    const sum = this.#sum as Uint32Array;
    for (const m of masks) ringAdd(sum, prgWords(m.seed, length), m.sign);
    this.#result = { sum: decodeFixed(sum, this.params.scale), survivors: [...u3], dropped };
    this.#sum = null;
    return this.#result;
  }
}

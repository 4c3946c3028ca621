import type { Logger } from 'pino';

/** Bin edges of a model version as the hub serves them (`GET /device/v1/drift/edges/…`). */
export interface DriftEdges {
  /** Flat input element of each feature. */
  elements: number[];
  edges: number[][];
  /** Classes in the baseline's output histogram. */
  classes: number;
}

/** Options of {@link DriftEdgesClient}. */
export interface DriftEdgesOptions {
  /** The hub's HTTP URL (`inference.hubHttpUrl`); without it no edges are fetched. */
  hubHttpUrl: string | undefined;
  deviceId: string;
  deviceSecret: string;
  /** Wait before asking again about a version the hub had no baseline for (or could not answer), ms. */
  retryMs: number;
  now: () => number;
  log: Logger;
  /** `fetch` to the hub over TLS; the global one when absent. */
  fetch?: (url: string | URL, init: RequestInit) => Promise<Response>;
}

/**
 * Fetches and caches the baseline bin edges of each model version from the hub with the
 * device's credentials. Lookups never block inference: {@link get}
 * answers from the cache (undefined while unknown) and starts a fetch in the background;
 * a miss (404, offline, error) is retried after `retryMs`, logged at `warn` once per version
 * for errors other than "no baseline".
 */
export class DriftEdgesClient {
  readonly #cache = new Map<string, DriftEdges | null>();
  readonly #retryAt = new Map<string, number>();
  readonly #inFlight = new Set<string>();
  readonly #warned = new Set<string>();
  /** The edges the previous call found (edges, once received, never change for a version). */
  #last: { model: string; version: string; edges: DriftEdges } | undefined;

  constructor(private readonly o: DriftEdgesOptions) {}

  /** Edges of `model@version` if known; triggers a (re)fetch when unknown and due. */
  get(model: string, version: string): DriftEdges | undefined {
    // On every inference: without a hub nothing is ever known, and a repeat of the previous
    // call's known edges needs no key.
    if (this.o.hubHttpUrl === undefined) return undefined;
    const last = this.#last;
    if (last !== undefined && last.model === model && last.version === version) return last.edges;
    const key = `${model}@${version}`;
    const cached = this.#cache.get(key);
    if (cached) {
      this.#last = { model, version, edges: cached };
      return cached;
    }
    if (this.#inFlight.has(key)) return undefined;
    if ((this.#retryAt.get(key) ?? 0) > this.o.now()) return undefined;
    this.#inFlight.add(key);
    void this.#fetch(model, version, key).finally(() => this.#inFlight.delete(key));
    return undefined;
  }

  /** Resolves once no fetch is in flight (tests, close). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  async #fetch(model: string, version: string, key: string): Promise<void> {
    const url = new URL(
      `/device/v1/drift/edges/${encodeURIComponent(model)}/${encodeURIComponent(version)}`,
      this.o.hubHttpUrl,
    );
    const auth = Buffer.from(`${this.o.deviceId}:${this.o.deviceSecret}`).toString('base64');
    try {
      const res = await (this.o.fetch ?? fetch)(url, {
        headers: { authorization: `Basic ${auth}` },
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) {
        const body = (await res.json()) as DriftEdges;
        this.#cache.set(key, body);
        this.o.log.info({ model, version, features: body.edges.length }, 'drift baseline edges received');
        return;
      }
      if (res.status !== 404 && !this.#warned.has(key)) {
        this.#warned.add(key);
        this.o.log.warn(
          { model, version, status: res.status },
          'drift edges refused by the hub; inputs not summarised',
        );
      }
    } catch (err) {
      if (!this.#warned.has(key)) {
        this.#warned.add(key);
        this.o.log.warn(
          { model, version, err: (err as Error).message },
          'drift edges unreachable; will retry',
        );
      }
    }
    this.#retryAt.set(key, this.o.now() + this.o.retryMs);
  }
}

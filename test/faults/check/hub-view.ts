import type { Lane } from '../../../shared/index.js';

/** One event as the hub's `GET /v1/devices/{id}/events` lists it. */
export interface HubEvent {
  epoch: string;
  lane: Lane;
  seq: number;
  type: string;
  body: unknown;
}

/** How long a request keeps retrying while the hub is down (restarting in a trial), ms. */
const HUB_DOWN_PATIENCE_MS = 30_000;
/** First pause between retries, ms; doubles up to {@link RETRY_PAUSE_MAX_MS}. */
const RETRY_PAUSE_MS = 100;
const RETRY_PAUSE_MAX_MS = 2_000;
/**
 * Answers that say "not now" rather than "no": a hub shutting down or overloaded (another
 * trial restarts it while this one checks), a gateway in between, the rate limiter.
 */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

/** A non-2xx answer of the hub. */
class HubAnswerError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/**
 * Why `err` is worth a retry of this request, or undefined when it is final: reads retry on
 * any network error and on a transient answer; writes only when nothing was done (the
 * connection was refused, or the rate limiter turned it away).
 */
function retryReason(method: string, err: unknown): string | undefined {
  const read = method === 'GET';
  if (err instanceof HubAnswerError) {
    const transient = read ? TRANSIENT_STATUSES.has(err.status) : err.status === 429;
    return transient ? `answered ${err.status}` : undefined;
  }
  const code = networkCode(err);
  if (code === undefined) return undefined;
  return read || code === 'ECONNREFUSED' ? `hub unreachable (${code})` : undefined;
}

/** The network error code under a failed `fetch`, if any. */
function networkCode(err: unknown): string | undefined {
  if (!(err instanceof TypeError)) return undefined;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : 'FETCH_FAILED';
}

/**
 * The hub's admin API, as the suite uses it (the hub runs as a separate process). Trials
 * that kill the hub run alongside the others, so a request that cannot reach the hub waits
 * for it (the URL follows the restarts): reads retry on any network error, writes only when
 * the connection was refused (nothing was sent, so nothing can happen twice).
 */
export class HubApi {
  readonly #token: string;
  url: string;

  constructor(url: string, token: string) {
    this.url = url;
    this.#token = token;
  }

  /**
   * Calls the admin API, retrying with backoff what {@link retryReason} allows for up to
   * {@link HUB_DOWN_PATIENCE_MS}; throws with the status and body on any other non-2xx.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const deadline = Date.now() + HUB_DOWN_PATIENCE_MS;
    let pause = RETRY_PAUSE_MS;
    for (;;) {
      try {
        return await this.#once<T>(method, path, body);
      } catch (err) {
        const reason = retryReason(method, err);
        if (reason === undefined) throw err;
        if (Date.now() > deadline) throw new Error(`${method} ${path}: ${reason}, still after retries`);
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, RETRY_PAUSE_MAX_MS);
      }
    }
  }

  async #once<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new HubAnswerError(`${method} ${path}: ${res.status} ${text}`, res.status);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Enrolls a device; returns its secret. */
  async enroll(id: string): Promise<string> {
    const res = await this.request<{ id: string; secret: string }>('POST', '/v1/devices', { id });
    return res.secret;
  }

  /** The loss ledger the hub shows for a device (what it reported, and what the hub skipped). */
  async ledger(deviceId: string): Promise<HubLedger> {
    const device = await this.request<{ ledger: HubLedger }>(
      'GET',
      `/v1/devices/${encodeURIComponent(deviceId)}`,
    );
    return device.ledger;
  }

  /** Every event the hub holds for one device and store epoch, in (lane, seq) order. */
  async events(deviceId: string, epoch: string): Promise<HubEvent[]> {
    const all: HubEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ epoch, limit: '10000' });
      if (after !== undefined) query.set('after', after);
      const page = await this.request<{ events: HubEvent[]; next?: string }>(
        'GET',
        `/v1/devices/${encodeURIComponent(deviceId)}/events?${query}`,
      );
      all.push(...page.events);
      if (page.next === undefined) return all;
      after = page.next;
    }
  }
}

/** The loss ledger of one lane as `GET /v1/devices/{id}` shows it. */
export interface HubLaneLedger {
  quota: { count: number; bytes: number };
  ttl: { count: number; bytes: number };
  unconfirmed: number;
  skippedAtHub: number;
}

/** `GET /v1/devices/{id}`'s `ledger`. */
export interface HubLedger {
  epoch: string | null;
  lanes: Record<Lane, HubLaneLedger>;
}

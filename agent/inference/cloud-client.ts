import { type TensorMap, tensorFromJson, tensorToJson } from '../../inference/index.js';
import { type EngineName, OutpostError, type TensorValue } from '../../shared/index.js';

/** An answer of the hub's `POST /v1/infer/:name`. */
export interface CloudAnswer {
  model: string;
  version: string;
  engine: EngineName;
  outputs: TensorMap;
}

/** The device's client of the hub's cloud inference. */
export interface CloudClient {
  /**
   * Runs `model` on the hub within `deadlineMs`. Throws `INFER_CLOUD_UNAVAILABLE` (network
   * error, timeout) or `INFER_CLOUD_REFUSED` (the hub answered an error; its code and
   * message in the message and `details`).
   */
  infer(model: string, inputs: TensorMap, deadlineMs: number): Promise<CloudAnswer>;
}

const isSocketReset = (err: unknown) => {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNRESET' || cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'EPIPE';
};

/**
 * Tries of one request whose connection was reset before any answer. The pool may hold
 * several kept-alive sockets that a proxy or the hub closed at once, and each is found dead
 * only by writing to it; past these tries the hub itself is resetting connections.
 */
const RESET_TRIES = 4;

/**
 * One POST within `deadlineMs`. Inference is a pure function of its inputs, so a request
 * that died on a reset connection before any answer (a kept-alive socket the hub or a proxy
 * closed) is sent again while the deadline allows, at most `RESET_TRIES` times in all.
 */
async function post(
  doFetch: (url: string | URL, init: RequestInit) => Promise<Response>,
  url: URL,
  body: string,
  authorization: string,
  deadlineMs: number,
) {
  const deadline = AbortSignal.timeout(deadlineMs);
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body,
        signal: deadline,
      });
      return { res, text: await res.text() };
    } catch (err) {
      if (attempt < RESET_TRIES && !deadline.aborted && isSocketReset(err)) continue;
      const e = err as Error & { cause?: { message?: string } };
      const why = deadline.aborted ? `no answer within ${deadlineMs} ms` : (e.cause?.message ?? e.message);
      throw new OutpostError('INFER_CLOUD_UNAVAILABLE', `hub ${url.origin}: ${why}`, { cause: err });
    }
  }
}

/** A client for `baseUrl` (the hub's HTTP URL) authenticating as the device (HTTP Basic). */
export function createCloudClient(options: {
  baseUrl: string;
  deviceId: string;
  secret: string;
  /** `fetch` to the hub over TLS (private CA, client certificate;); the global one when absent. */
  fetch?: (url: string | URL, init: RequestInit) => Promise<Response>;
}): CloudClient {
  const authorization = `Basic ${Buffer.from(`${options.deviceId}:${options.secret}`).toString('base64')}`;
  return {
    async infer(model, inputs, deadlineMs) {
      const body: Record<string, TensorValue> = {};
      for (const [name, t] of Object.entries(inputs)) body[name] = tensorToJson(t);
      const url = new URL(`/v1/infer/${encodeURIComponent(model)}`, options.baseUrl);
      const { res, text } = await post(
        options.fetch ?? fetch,
        url,
        JSON.stringify({ inputs: body }),
        authorization,
        deadlineMs,
      );
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new OutpostError(
          'INFER_CLOUD_REFUSED',
          `hub answered ${res.status} with a body that is not JSON`,
        );
      }
      if (!res.ok) {
        const error = (json as { error?: { code?: string; message?: string } }).error;
        throw new OutpostError(
          'INFER_CLOUD_REFUSED',
          `hub answered ${res.status} ${error?.code ?? ''}: ${error?.message ?? text.slice(0, 200)}`,
          { details: { status: res.status, code: error?.code } },
        );
      }
      const answer = json as {
        model: string;
        version: string;
        engine: EngineName;
        outputs: Record<string, TensorValue>;
      };
      const outputs: TensorMap = {};
      for (const [name, v] of Object.entries(answer.outputs ?? {})) outputs[name] = tensorFromJson(name, v);
      return { model: answer.model, version: answer.version, engine: answer.engine, outputs };
    },
  };
}

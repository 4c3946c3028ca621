import { CliError, EXIT } from './exit-codes.js';

/** Where the admin commands find the hub. */
export interface HubEndpoint {
  /** Base URL of the hub's HTTP API, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Admin bearer token. */
  token: string;
}

/**
 * Calls the hub's admin API and returns the parsed JSON body. An `{error: {code, message}}`
 * answer becomes a CliError naming the code; a connection failure exits UNREACHABLE.
 */
export async function hubRequest<T>(
  hub: HubEndpoint,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, hub.url), {
      method,
      headers: {
        authorization: `Bearer ${hub.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the hub at ${hub.url}: ${cause}`, EXIT.UNREACHABLE);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {
    throw new CliError(`hub answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new CliError(
      `hub refused ${method} ${path}: ${error?.code ?? res.status} ${error?.message ?? text}`,
    );
  }
  return json as T;
}

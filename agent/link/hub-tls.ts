import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';

/**
 * `tls` of the agent config: how the agent trusts the hub and proves itself
 * over `mqtts://` / `wss://` and `https://` (artifacts, cloud inference, drift edges).
 */
export const AgentTlsSchema = z
  .strictObject({
    /** PEM CA(s) to trust for the hub (a private CA); the system roots when absent. */
    caFile: z.string().min(1).optional(),
    /** PEM client certificate of this device (CN = device id) for hubs with `tls.clientCerts`. */
    certFile: z.string().min(1).optional(),
    /** PEM private key of `certFile`. */
    keyFile: z.string().min(1).optional(),
  })
  .prefault({})
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'tls.certFile and tls.keyFile go together',
    path: ['keyFile'],
  });

export type AgentTlsConfig = z.output<typeof AgentTlsSchema>;

/** TLS material read from the configured files; empty when none is configured. */
export interface HubTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** `fetch` as the agent's HTTP clients to the hub use it. */
export type HubFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Reads the configured PEM files; throws `AGENT_CONFIG_INVALID` naming a file it cannot read. */
export function loadHubTls(cfg: AgentTlsConfig): HubTlsMaterial {
  const read = (key: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new OutpostError(
        'AGENT_CONFIG_INVALID',
        `tls.${key}: cannot read ${file}: ${(err as Error).message}`,
      );
    }
  };
  const material: HubTlsMaterial = {};
  const ca = read('caFile', cfg.caFile);
  const cert = read('certFile', cfg.certFile);
  const key = read('keyFile', cfg.keyFile);
  if (ca) material.ca = ca;
  if (cert) material.cert = cert;
  if (key) material.key = key;
  return material;
}

/**
 * The `fetch` for the hub: the global one without TLS material, else undici's with a
 * dispatcher that trusts `ca` and presents `cert`/`key`. `close` releases
 * the dispatcher's sockets.
 */
export function createHubFetch(tls: HubTlsMaterial): { fetch: HubFetch; close(): Promise<void> } {
  if (tls.ca === undefined && tls.cert === undefined) {
    return { fetch: (url, init) => fetch(url, init), close: async () => {} };
  }
  // Loaded only here: an agent without its own TLS material never uses undici, and loading it
  // cost about 40 ms of CPU at every agent start on this machine.
  const undici = createRequire(import.meta.url)('undici') as typeof import('undici');
  const dispatcher = new undici.Agent({ connect: { ...tls } });
  return {
    fetch: (url, init) =>
      undici.fetch(url, { ...(init as object), dispatcher } as Parameters<
        typeof undici.fetch
      >[1]) as unknown as Promise<Response>,
    close: () => dispatcher.close(),
  };
}

/**
 * A broker address that may name several nodes: `mqtt://a:1883,mqtt://b:1883` (a NATS
 * cluster's MQTT listeners). A client connects to the first and, each time the connection
 * fails or drops, tries the next, round the list.
 */

/** The URLs of a comma-separated list, trimmed, empty entries dropped. */
export function splitBrokerUrls(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `mqtt://`, `mqtts://`, `ws://` or `wss://` URL, or a comma-separated list of them. */
export const MQTT_URL_LIST = /^(mqtts?|wss?):\/\/[^\s,]+(,\s*(mqtts?|wss?):\/\/[^\s,]+)*$/;

type Protocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';

/**
 * mqtt.js connection arguments for a URL list: the first URL, plus `servers` (mqtt.js moves to
 * the next entry on every reconnect) when there are several. WebSocket paths are those of the
 * first URL.
 */
export function mqttFailover(list: string): {
  url: string;
  servers?: Array<{ host: string; port: number; protocol: Protocol }>;
} {
  const urls = splitBrokerUrls(list);
  const first = urls[0] ?? list;
  if (urls.length < 2) return { url: first };
  const servers = urls.map((u) => {
    const parsed = new URL(u);
    const protocol = parsed.protocol.replace(':', '') as Protocol;
    const port = Number(
      parsed.port || (protocol === 'mqtts' ? 8883 : protocol === 'wss' ? 443 : protocol === 'ws' ? 80 : 1883),
    );
    return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port, protocol };
  });
  return { url: first, servers };
}

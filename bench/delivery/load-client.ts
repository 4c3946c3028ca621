/**
 * The load of `npm run bench -- delivery`, run in its own process so that it never shares an
 * event loop with the hub it measures: N concurrent protocol-level downloaders, each a raw
 * TCP connection sending one HTTP/1.1 GET of the whole artifact and counting the body bytes
 * announced by `Content-Length` (no HTTP library: the client should cost as little as it can).
 * argv: URL COUNT [AUTH_FILE] where AUTH_FILE holds one `Authorization` value per line
 * (downloader i uses line i mod lines). Prints `{"bytes": N, "ms": T, "failed": F}`.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const [url = '', countText = '1', authFile] = process.argv.slice(2);
const count = Number(countText);
const auths = authFile ? readFileSync(authFile, 'utf8').split('\n').filter(Boolean) : [];
const target = new URL(url);

function fetchOnce(i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const auth = auths[i % Math.max(1, auths.length)];
    const socket = connect(Number(target.port), target.hostname);
    let head = Buffer.alloc(0);
    let body = -1;
    let expected = 0;
    socket.on('connect', () => {
      socket.write(
        `GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Connection: close\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (body >= 0) {
        body += chunk.length;
      } else {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 200/.test(text)) {
          socket.destroy();
          reject(new Error(text.split('\r\n')[0]));
          return;
        }
        expected = Number(/content-length:\s*(\d+)/i.exec(text)?.[1] ?? Number.NaN);
        body = head.length - end - 4;
      }
      if (body >= expected) {
        socket.destroy();
        resolve(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${body} of ${expected} bytes`)));
  });
}

const start = performance.now();
const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => fetchOnce(i)));
const ms = performance.now() - start;
let bytes = 0;
let failed = 0;
for (const r of results) {
  if (r.status === 'fulfilled') bytes += r.value;
  else failed++;
}
console.log(JSON.stringify({ bytes, ms, failed }));

import { pipeline, Readable, Transform } from 'node:stream';

/** Chunk size, bytes, an in-memory body is cut into so its upload shows progress (64 KiB). */
const MEMORY_CHUNK_BYTES = 64 * 1024;

/**
 * An upload body that counts the bytes handed to the HTTP client (push
 * progress): `source` (a file stream, or bytes already in memory, sent in 64 KiB chunks) is
 * piped through a pass-through that calls `onBytes(sentSoFar)` per chunk, so the body still
 * streams. The count is what `fetch` has pulled, which runs ahead of what the hub has acked by
 * at most the socket buffers. A read error destroys the returned stream, failing the request.
 */
export function countingBody(source: Readable | Uint8Array, onBytes: (sent: number) => void): Readable {
  const input =
    source instanceof Uint8Array
      ? Readable.from(
          (function* () {
            for (let at = 0; at < source.byteLength; at += MEMORY_CHUNK_BYTES)
              yield source.subarray(at, at + MEMORY_CHUNK_BYTES);
          })(),
          { objectMode: false },
        )
      : source;
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      onBytes(sent);
      done(null, chunk);
    },
  });
  return pipeline(input, counter, () => undefined);
}

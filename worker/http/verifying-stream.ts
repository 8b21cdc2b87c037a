/**
 * Hashing bytes as they pass, for artifacts served straight from R2: a body is checked against its
 * SHA-256 while it streams, without holding the file in memory. The last chunk is held back until the
 * digest is known: bytes that match are released whole; bytes that do not make the stream fail before
 * its end, so a client never receives a complete body (its Content-Length is never reached) and a cache
 * reading the same stream never stores it. Uses workerd's `crypto.DigestStream` (incremental SHA-256).
 */
import { toHex } from '../../protocol/sha256.ts';

/** Hex SHA-256 of a whole stream, read chunk by chunk. */
export async function hashStream(body: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream('SHA-256');
  await body.pipeTo(digest);
  return toHex(new Uint8Array(await digest.digest));
}

/**
 * A pass-through that fails unless the bytes hash to `expectedHex`.
 * @param onDone called once with the hex digest of what passed (before the stream ends or fails).
 * @example
 * const checked = object.body.pipeThrough(verifyingStream(sha256, (actual) => log(actual)));
 */
export function verifyingStream(expectedHex: string, onDone: (actualHex: string) => void = () => undefined): TransformStream<Uint8Array, Uint8Array> {
  const digest = new crypto.DigestStream('SHA-256');
  const writer = digest.getWriter();
  let held: Uint8Array | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await writer.write(chunk);
      if (held) controller.enqueue(held);
      held = chunk;
    },
    async flush(controller) {
      await writer.close();
      const actual = toHex(new Uint8Array(await digest.digest));
      onDone(actual);
      if (actual !== expectedHex) {
        controller.error(new Error(`artifact bytes hash to ${actual}, not ${expectedHex}`));
        return;
      }
      if (held) controller.enqueue(held);
    },
  });
}

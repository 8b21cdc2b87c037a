/**
 * The request body within its size limit and by its deadline, in workerd: declared and chunked bodies
 * over the limit, a chunked body whole, and one that stops arriving.
 */
import { describe, expect, it } from 'vitest';
import { readBody } from './read-body.ts';

const encoder = new TextEncoder();

/** A chunked body (no Content-Length): `chunks`, then closed unless `stall`. */
function chunked(chunks: string[], stall = false): Request {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!stall) controller.close();
    },
  });
  return new Request('https://edge.test/', { method: 'POST', body, duplex: 'half' } as RequestInit);
}

const soon = () => Date.now() + 5_000;

describe('readBody', () => {
  it('reads a declared body and a chunked one whole', async () => {
    const declared = new Request('https://edge.test/', { method: 'POST', body: 'abc' });
    expect(new TextDecoder().decode(await readBody(declared, { maxBytes: 3, deadline: soon() }))).toBe('abc');
    expect(new TextDecoder().decode(await readBody(chunked(['ab', 'cd', 'e']), { maxBytes: 5, deadline: soon() }))).toBe('abcde');
  });

  it('refuses a body over the limit: declared before reading, chunked once past it', async () => {
    const declared = new Request('https://edge.test/', { method: 'POST', body: 'abcd' });
    await expect(readBody(declared, { maxBytes: 3, deadline: soon() })).rejects.toMatchObject({ code: 'payload_too_large' });
    // The stream never ends: the limit, not the end, stops the read.
    await expect(readBody(chunked(['ab', 'cd'], true), { maxBytes: 3, deadline: soon() })).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('answers bad_request by the deadline when the body stops arriving', async () => {
    const started = Date.now();
    const late = await readBody(chunked(['{"inputs":'], true), { maxBytes: 100, deadline: Date.now() + 100 }).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/did not arrive within 0\.1 s/) });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

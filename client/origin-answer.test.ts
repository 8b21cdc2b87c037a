/**
 * The origin's 200 held to the manifest (found by a probe: a captive portal's page was `bad_request`, so
 * neither retried nor fallen back from; another model's or version's outputs, or outputs of other names,
 * dtypes or shapes, were returned and cached as this model's).
 */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../protocol/manifest.ts';
import { encodeInferResponse, type InferResponse } from '../protocol/oip-codec.ts';
import { sampleManifest } from '../protocol/test-support/manifest-arbitrary.ts';
import { readOriginAnswer } from './origin-answer.ts';

const base = sampleManifest({ id: 'm', version: '1.0.0' });
const manifest: Manifest = {
  ...base,
  variants: [
    {
      ...base.variants[0]!,
      tier: 'origin',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [
        { name: 'y', dtype: 'float32', shape: ['batch', 2] },
        { name: 'label', dtype: 'int64', shape: ['batch'] },
      ],
    },
  ],
};

const y = { name: 'y', dtype: 'float32' as const, dims: [1, 2], data: new Float32Array([0.25, 0.75]) };
const label = { name: 'label', dtype: 'int64' as const, dims: [1], data: new BigInt64Array([1n]) };

function answer(response: Partial<InferResponse> = {}, headers: Record<string, string> = {}): Response {
  const { body, headers: encoded } = encodeInferResponse({ modelName: 'm', modelVersion: '1.0.0', outputs: [y, label], ...response });
  return new Response(body, { headers: { ...encoded, ...headers } });
}

async function codeOf(res: Response, asked?: string[]): Promise<string | undefined> {
  return readOriginAnswer(res, manifest, asked).then(
    () => undefined,
    (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
  );
}

describe('readOriginAnswer', () => {
  it('takes an answer that fits the manifest, every output or those asked for', async () => {
    expect((await readOriginAnswer(answer(), manifest, undefined)).outputs.map((t) => t.name)).toEqual(['y', 'label']);
    expect((await readOriginAnswer(answer({ outputs: [y] }), manifest, ['y'])).version).toBe('1.0.0');
  });

  it.each([
    ['a page that is not OIP (a captive portal)', () => new Response('<html>sign in</html>'), /is not an OIP answer/],
    ['an empty 200', () => new Response(''), /is not an OIP answer/],
    ['another model', () => answer({ modelName: 'other' }), /is model "other"'s/],
    ['another version', () => answer({}, { 'x-model-version': '9.9.9' }), /is version 9\.9\.9's/],
    ['an output of another name', () => answer({ outputs: [{ ...y, name: 'z' }, label] }), /has outputs \[z, label\]/],
    ['an output missing', () => answer({ outputs: [y] }), /has outputs \[y\], asked for \[y, label\]/],
    ['another dtype', () => answer({ outputs: [{ ...y, dtype: 'int32', data: new Int32Array(2) }, label] }), /"y" as int32/],
    ['another rank', () => answer({ outputs: [{ ...y, dims: [2] }, label] }), /"y" as float32 \[2\]/],
    ['another fixed dimension', () => answer({ outputs: [{ ...y, dims: [1, 3], data: new Float32Array(3) }, label] }), /"y" as float32 \[1,3\]/],
  ])('refuses %s as origin_unavailable', async (_what, res, message) => {
    const outcome = await codeOf(res());
    expect(outcome).toMatch(/^origin_unavailable: m@1\.0\.0: the origin's answer /);
    expect(outcome).toMatch(message);
  });

  it('refuses a body that breaks off as origin_unavailable', async () => {
    const broken = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([123]));
        controller.error(new TypeError('network connection lost'));
      },
    });
    expect(await codeOf(new Response(broken))).toMatch(/^origin_unavailable: .*broke off \(network connection lost\)/);
  });
});

/**
 * Real third-party models (models/third-party/catalog.ts) in front of the origin: warm-up on signed
 * examples or, without them, a synthetic warm-up whose failure is a warning, not a refusal; and outputs
 * JSON cannot carry (NaN, ±Infinity) sent back as binary data instead of failing the request.
 *
 * Silero VAD v5 is the model that showed both problems: its STFT rejects the synthetic input (one sample
 * of zeros), so before this the origin refused a model that works. Last, every catalogued model is served
 * and answers its examples as onnxruntime-node does.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THIRD_PARTY_MODELS, thirdPartyModel, type ThirdPartyExample } from '../models/third-party/catalog.ts';
import { exampleRng, int64Scalar, voicedAudio } from '../models/third-party/example-inputs.ts';
import { layOutThirdPartyVersion, toProtocolTensor } from '../models/third-party/test-support.ts';
import { generateSigningKey } from '../protocol/keys.ts';
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
  jsonCannotCarry,
  type InferRequest,
  type NamedInferTensor,
} from '../protocol/oip-codec.ts';
import { topClassConfidences } from './metrics.ts';
import type { RunningOrigin } from './server.ts';
import { INFER_TOKEN, infer, startTestOrigin, type TestRepository } from './test-support.ts';

const silero = thirdPartyModel('silero-vad-v5');
const classifier = thirdPartyModel('paddleocr-cls-v2');

function request(example: ThirdPartyExample): InferRequest {
  return { inputs: Object.entries(example.inputs).map(([name, t]): NamedInferTensor => ({ name, ...toProtocolTensor(t) }) as NamedInferTensor) };
}

describe('origin with third-party models', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    const repository = await mkdtemp(join(tmpdir(), 'tandem-third-party-'));
    const key = await generateSigningKey();
    const examples = silero.examples();
    await layOutThirdPartyVersion(silero, { repository, key, id: 'silero-vad' });
    await layOutThirdPartyVersion(silero, { repository, key, id: 'silero-vad-signed', examples });
    // Signed, but too short for the STFT: the model cannot run it.
    const short: ThirdPartyExample = {
      name: 'short',
      inputs: {
        input: voicedAudio(exampleRng('short', 0), { samples: 8, sampleRate: 16000, amplitude: 0.5 }),
        state: examples[0]!.inputs.state!,
        sr: int64Scalar(16000),
      },
    };
    await layOutThirdPartyVersion(silero, { repository, key, id: 'silero-vad-short-example', examples: [examples[0]!, short] });
    // Signed, but not a request this model takes (no sample rate).
    const { sr: _dropped, ...withoutRate } = examples[0]!.inputs;
    await layOutThirdPartyVersion(silero, { repository, key, id: 'silero-vad-misfit-example', examples: [{ name: 'no-sr', inputs: withoutRate }] });
    // Signed, then the example file is changed, or removed.
    await layOutThirdPartyVersion(silero, { repository, key, id: 'silero-vad-tampered-example', examples });
    await writeFile(join(repository, 'silero-vad-tampered-example', '1.0.0', 'example-1-8k-288.json'), '{"inputs":[]}');
    await layOutThirdPartyVersion(silero, { repository, key, id: 'silero-vad-missing-example', examples });
    await unlink(join(repository, 'silero-vad-missing-example', '1.0.0', 'example-0-16k-576.json'));
    await layOutThirdPartyVersion(classifier, { repository, key, id: 'text-orientation', examples: classifier.examples() });
    repo = { repository, key, trustedKeys: JSON.stringify([key.publicKey]), cleanup: () => rm(repository, { recursive: true, force: true }) };
    ({ origin, lines } = await startTestOrigin(repo, { nonFinite: 'allow' }));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  const readiness = async () =>
    (await (await fetch(`${origin.url}/v2/health/ready`)).json()) as {
      models: { name: string }[];
      refused: { name: string; code: string; reason: string }[];
    };

  it('serves a model whose synthetic warm-up fails, with a warning log line and a metric', async () => {
    const ready = await readiness();
    expect(ready.models.map((m) => m.name)).toContain('silero-vad');
    expect(ready.refused.map((r) => r.name)).not.toContain('silero-vad');
    const warnings = lines.filter((l) => l.event === 'warmup_failed');
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 40,
        model: 'silero-vad',
        version: '1.0.0',
        code: 'inference_failed',
        reason: expect.stringMatching(/synthetic warm-up .*serving anyway.*Pad/),
      }),
    ]);
    const metrics = await (await fetch(`${origin.url}/metrics`)).text();
    expect(metrics).toMatch(/^tandem_origin_warmup_failures_total\{model="silero-vad",version="1\.0\.0"\} 1$/m);
    expect(metrics).not.toMatch(/tandem_origin_warmup_failures_total\{model="silero-vad-signed"/);
  });

  it('answers a real 16 kHz frame (int64 scalar sample rate, recurrent state) as onnxruntime-node does', async () => {
    const example = silero.examples(7)[0]!;
    const direct = await ort.InferenceSession.create(silero.path(), { intraOpNumThreads: 1 });
    const feeds = Object.fromEntries(Object.entries(example.inputs).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, [...t.dims])]));
    const expected = await direct.run(feeds);
    await direct.release();
    for (const model of ['silero-vad', 'silero-vad-signed']) {
      const result = await infer(origin.url, model, request(example));
      if (!result.ok) throw result.error;
      const byName = Object.fromEntries(result.response.outputs.map((o) => [o.name, o]));
      expect(byName.output!.dims).toEqual([1, 1]);
      expect(byName.stateN!.dims).toEqual([2, 1, 128]);
      for (const name of ['output', 'stateN']) {
        const got = byName[name]!.data as Float32Array;
        const want = expected[name]!.data as Float32Array;
        got.forEach((v, i) => expect(Math.abs(v - want[i]!), `${model} ${name}[${i}]`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want[i]!)));
      }
    }
  });

  it('warms up on signed examples and refuses a version whose example is altered, missing, misfit or fails', async () => {
    const ready = await readiness();
    expect(ready.models.map((m) => m.name)).toEqual(expect.arrayContaining(['silero-vad-signed', 'text-orientation']));
    const refused = Object.fromEntries(ready.refused.map((r) => [r.name, r]));
    expect(refused['silero-vad-short-example']).toMatchObject({
      code: 'inference_failed',
      reason: expect.stringMatching(/^signed example example-1-short\.json failed to run: .*Pad/),
    });
    expect(refused['silero-vad-misfit-example']).toMatchObject({
      code: 'manifest_invalid',
      reason: expect.stringMatching(/^signed example example-0-no-sr\.json is not a valid request for this model: input_missing: input "sr" is required/),
    });
    expect(refused['silero-vad-tampered-example']).toMatchObject({
      code: 'artifact_hash_mismatch',
      reason: expect.stringMatching(/^signed example example-1-8k-288\.json: 13 bytes, manifest says \d+/),
    });
    expect(refused['silero-vad-missing-example']).toMatchObject({ code: 'artifact_missing', reason: 'signed example example-0-16k-576.json: no such file' });
    expect(lines.filter((l) => l.event === 'warmup_failed').map((l) => l.model)).toEqual(['silero-vad']);
    const notReady = await infer(origin.url, 'silero-vad-short-example', request(silero.examples()[0]!));
    expect(notReady.ok ? 'ok' : notReady.error.code).toBe('model_not_ready');
  });

  it('sends back as binary data an output holding NaN that was asked for as JSON', async () => {
    // Binary input (JSON cannot carry NaN), JSON output asked for; row 0 has a NaN pixel, row 1 is clean.
    const example = classifier.examples(3)[1]!;
    const x = toProtocolTensor(example.inputs.x!);
    const data = new Float32Array(x.data as Float32Array);
    data[5] = Number.NaN;
    const encoded = encodeInferRequest({ inputs: [{ name: 'x', dtype: 'float32', dims: x.dims, data }] }, { binary: true });
    const res = await fetch(`${origin.url}/v2/models/text-orientation/infer`, {
      method: 'POST',
      body: encoded.body,
      headers: { ...encoded.headers, authorization: `Bearer ${INFER_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const headerLength = res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH);
    expect(headerLength).not.toBeNull();
    const response = decodeInferResponse(new Uint8Array(await res.arrayBuffer()), headerLength);
    const probabilities = response.outputs[0]!.data as Float32Array;
    expect(response.outputs[0]!.dims).toEqual([2, 2]);
    expect(Number.isNaN(probabilities[0]!)).toBe(true);
    expect(probabilities[2]! + probabilities[3]!).toBeCloseTo(1, 5);
    // A finite answer to the same model still comes back as plain JSON.
    const clean = await infer(origin.url, 'text-orientation', request(classifier.examples(3)[0]!));
    expect(clean.ok && clean.res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH)).toBeNull();
    expect(lines.filter((l) => l.event === 'batch_metrics_failed')).toEqual([]);
  });
});

describe('outputs JSON cannot carry', () => {
  const output = (data: Float32Array): NamedInferTensor => ({ name: 'y', dtype: 'float32', dims: [data.length], data });

  it('are detected: NaN, infinities, half-float NaN, int64 beyond 2^53 - 1', () => {
    expect(jsonCannotCarry({ dtype: 'float32', dims: [2], data: Float32Array.of(1, Number.NaN) })).toBe(true);
    expect(jsonCannotCarry({ dtype: 'float64', dims: [1], data: Float64Array.of(Number.NEGATIVE_INFINITY) })).toBe(true);
    expect(jsonCannotCarry({ dtype: 'float16', dims: [1], data: Uint16Array.of(0x7e00) })).toBe(true);
    expect(jsonCannotCarry({ dtype: 'int64', dims: [1], data: BigInt64Array.of(2n ** 60n) })).toBe(true);
    expect(jsonCannotCarry({ dtype: 'float32', dims: [2], data: Float32Array.of(1, -0) })).toBe(false);
    expect(jsonCannotCarry({ dtype: 'int64', dims: [1], data: BigInt64Array.of(16000n) })).toBe(false);
  });

  it('asked for as JSON of the codec alone are a tensor_invalid naming binary_data_output', () => {
    expect(() => encodeInferResponse({ modelName: 'm', outputs: [output(Float32Array.of(Number.POSITIVE_INFINITY))] })).toThrow(
      expect.objectContaining({ code: 'tensor_invalid', message: expect.stringMatching(/output "y": element 0 is Infinity.*binary_data_output: true/) }),
    );
  });

  it('leave no NaN confidence for the metrics histogram', () => {
    expect(Array.from(topClassConfidences(Float32Array.of(Number.NaN, 0, 2, 2), 2))).toEqual([0.5]);
  });
});

describe('origin serving every catalogued third-party model', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    const repository = await mkdtemp(join(tmpdir(), 'tandem-third-party-all-'));
    const key = await generateSigningKey();
    for (const model of THIRD_PARTY_MODELS) await layOutThirdPartyVersion(model, { repository, key });
    repo = { repository, key, trustedKeys: JSON.stringify([key.publicKey]), cleanup: () => rm(repository, { recursive: true, force: true }) };
    ({ origin, lines } = await startTestOrigin(repo));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('serves them all; only the two that reject a one-sample input warn at warm-up', async () => {
    const ready = (await (await fetch(`${origin.url}/v2/health/ready`)).json()) as { models: { name: string }[]; refused: unknown[] };
    expect(ready.refused).toEqual([]);
    expect(ready.models.map((m) => m.name).sort()).toEqual(THIRD_PARTY_MODELS.map((m) => m.key).sort());
    const warned = lines.filter((l) => l.event === 'warmup_failed').map((l) => l.model);
    expect(warned.sort()).toEqual(['openwakeword-melspectrogram', 'silero-vad-v5']);
  });

  it('answers every example, over JSON and binary, as onnxruntime-node does', async () => {
    for (const model of THIRD_PARTY_MODELS) {
      const direct = await ort.InferenceSession.create(model.path(), { intraOpNumThreads: 1 });
      for (const [i, example] of model.examples(11).entries()) {
        const feeds = Object.fromEntries(Object.entries(example.inputs).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, [...t.dims])]));
        const expected = await direct.run(feeds);
        const result = await infer(origin.url, model.key, request(example), { binary: i % 2 === 1 });
        if (!result.ok) throw new Error(`${model.key} ${example.name}: ${result.error.code}: ${result.error.message}`);
        for (const output of result.response.outputs) {
          const want = expected[output.name]!;
          expect([...output.dims], `${model.key} ${example.name} ${output.name}`).toEqual([...want.dims]);
          const got = output.data as Float32Array;
          const ref = want.data as Float32Array;
          const bad = got.findIndex((v, k) => !(Math.abs(v - ref[k]!) <= 1e-5 + 1e-4 * Math.abs(ref[k]!)));
          expect(bad, `${model.key} ${example.name} ${output.name}: first element off`).toBe(-1);
        }
      }
      await direct.release();
    }
  });
});

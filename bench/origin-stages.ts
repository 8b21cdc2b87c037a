/**
 * `npm run bench:origin:stages`: what each stage of one origin request costs on its own, in this process,
 * with the bytes the benchmark sends (large-classifier, one row, binary tensors) and a batch of 64 such
 * rows, and the per-request bookkeeping (trace ids, the request log line, metrics). Each stage runs in a tight loop; the figure is the lowest mean over several repetitions (the
 * least disturbed by other work on a shared machine), in microseconds per call, CPU time where the stage
 * is synchronous and wall time for the thread hop and the compute. The HTTP parse and write are not here:
 * bench/floor-server.ts measures them (the floor, d).
 *
 *   npm run bench:origin:stages -- [--repeats 5]
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { concatRows, splitRows } from '../protocol/batch-rows.ts';
import { createOriginMetrics, servedLabels, topClassConfidences } from '../origin/metrics.ts';
import { continueTrace, pooledRandom } from '../protocol/traceparent.ts';
import { pino } from 'pino';
import { openSession } from '../origin/ort-session.ts';
import { binaryOutputSelector, decodeInferRequest, encodeInferResponse, INFERENCE_HEADER_CONTENT_LENGTH } from '../protocol/oip-codec.ts';
import type { Tensor } from '../protocol/tensor.ts';
import { validateInputs } from '../protocol/validate-inputs.ts';
import { benchRepository } from './lib/bench-repository.ts';
import { inferTarget } from './lib/bodies.ts';
import { formatTable } from './lib/table.ts';

const BATCH = 64;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeats: { type: 'string', default: '5' } } });
  const repeats = Number(values.repeats);
  const repo = await benchRepository(['large-classifier']);
  try {
    const model = repo.models[0]!;
    const target = inferTarget('http://x', model.id, model.variant.inputs, 'binary', 'token-for-stages');
    const body = new Uint8Array(target.body);
    const headerLength = target.headers[INFERENCE_HEADER_CONTENT_LENGTH] ?? target.headers[INFERENCE_HEADER_CONTENT_LENGTH.toLowerCase()];
    const request = decodeInferRequest(body, headerLength);
    const one: Tensor = { dtype: 'float32', dims: request.inputs[0]!.dims, data: request.inputs[0]!.data } as Tensor;
    const batchInput = concatRows(Array.from({ length: BATCH }, () => one));
    const inputName = model.variant.inputs[0]!.name;
    const outputNames = model.variant.outputs.map((o) => o.name);
    const session = await openSession(new Uint8Array(await readFile(model.artifactPath)), { intraOpThreads: 0, spinning: false });
    try {
      const outputs = await session.run({ [inputName]: batchInput }, outputNames);
      const rows = Array.from({ length: BATCH }, () => 1);
      const pieces = Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, splitRows(t, rows)]));
      const asked = binaryOutputSelector(request);
      const encoder = new TextEncoder();
      const random = pooledRandom();
      // The origin's logger and line, written to /dev/null (the write itself is asynchronous, off this thread).
      const logger = pino({ base: { service: 'tandem-origin' } }, pino.destination({ dest: '/dev/null', sync: false }));
      const metrics = createOriginMetrics({ processMetrics: false });
      const served = { id: model.id, version: model.version, variant: model.variant };

      const stages: [string, 'request' | 'batch', 'cpu' | 'wall', () => unknown | Promise<unknown>][] = [
        ['auth: WebCrypto subtle.digest (before)', 'request', 'cpu', () => crypto.subtle.digest('SHA-256', encoder.encode('token-for-stages'))],
        ['auth: node:crypto createHash (now)', 'request', 'cpu', () => createHash('sha256').update('token-for-stages', 'utf8').digest()],
        ['trace ids: getRandomValues per id (before)', 'request', 'cpu', () => continueTrace(undefined)],
        ['trace ids: pooled random bytes (now)', 'request', 'cpu', () => continueTrace(undefined, random)],
        [
          'request log line (pino)',
          'request',
          'cpu',
          () =>
            logger.info({
              request_id: 'r-0123456789',
              trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
              span_id: '00f067aa0ba902b7',
              method: 'POST',
              path: `/v2/models/${model.id}/infer`,
              status: 200,
              total_ms: 41.27,
              model: model.id,
              version: model.version,
              batch_size: 64,
              queue_ms: 12.31,
              compute_ms: 22.08,
            }),
        ],
        [
          'metrics per request: label objects (before)',
          'request',
          'cpu',
          () => {
            const labels = servedLabels(served);
            metrics.inFlight.inc();
            metrics.queueSeconds.observe(labels, 0.012);
            metrics.inFlight.dec();
            metrics.requests.inc({ ...labels, status: '200', code: 'ok' });
            metrics.requestSeconds.observe(labels, 0.041);
          },
        ],
        [
          'metrics per request: bound series (now)',
          'request',
          'cpu',
          () => {
            const series = metrics.served(served);
            metrics.inFlight.inc();
            series.queueSeconds.observe(0.012);
            metrics.inFlight.dec();
            series.ok.inc();
            series.requestSeconds.observe(0.041);
          },
        ],
        ['decode the binary body', 'request', 'cpu', () => decodeInferRequest(body, headerLength, { maxElements: 16 << 20, maxTotalElements: 16 << 20 })],
        ['validate inputs', 'request', 'cpu', () => validateInputs(request.inputs, model.variant, { nonFinite: 'reject' })],
        [`copy ${BATCH} rows into the batch`, 'batch', 'cpu', () => concatRows(Array.from({ length: BATCH }, () => one))],
        [`clone the batch's inputs (hop in, by copy)`, 'batch', 'cpu', () => structuredClone(batchInput)],
        [`clone the batch's outputs (hop out, before: by copy)`, 'batch', 'cpu', () => structuredClone(outputs)],
        [`thread hop and compute, batch ${BATCH} (session.run)`, 'batch', 'wall', () => session.run({ [inputName]: batchInput }, outputNames)],
        ['split outputs by copy (before)', 'batch', 'cpu', () => Object.values(outputs).map((t) => rows.map((_, i) => t.data.slice(i * 1000, (i + 1) * 1000)))],
        ['split outputs as views (now)', 'batch', 'cpu', () => Object.values(outputs).map((t) => splitRows(t, rows))],
        ['top-class confidence of every row (metrics)', 'batch', 'cpu', () => topClassConfidences(outputs[outputNames[0]!]!.data as Float32Array, 1000)],
        [
          'encode one answer (binary)',
          'request',
          'cpu',
          () =>
            encodeInferResponse(
              { modelName: model.id, modelVersion: model.version, outputs: outputNames.map((name) => ({ name, ...pieces[name]![0]! })) },
              { binary: asked },
            ),
        ],
      ];
      const table: (string | number | null)[][] = [];
      for (const [name, per, clock, run] of stages) {
        const means: number[] = [];
        const loops = per === 'batch' ? (clock === 'wall' ? 10 : 50) : 2000;
        for (let r = 0; r < repeats; r++) {
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          for (let i = 0; i < loops; i++) await run();
          const wall = (performance.now() - t0) * 1000;
          const cpu = process.cpuUsage(cpu0);
          means.push((clock === 'wall' ? wall : cpu.user + cpu.system) / loops);
        }
        const best = Math.min(...means);
        table.push([name, per, clock, Math.round(best * 10) / 10, Math.round((per === 'batch' ? best / BATCH : best) * 10) / 10]);
        process.stderr.write('.');
      }
      process.stdout.write(
        `\n${model.id}, one row per request, batches of ${BATCH}; lowest of ${repeats} repetitions\n${formatTable(['stage', 'per', 'clock', 'µs per call', 'µs per request'], table)}\n`,
      );
    } finally {
      await session.release();
    }
  } finally {
    await repo.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:origin:stages failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

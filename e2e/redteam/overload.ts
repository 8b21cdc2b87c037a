/**
 * Overload: one origin is first driven closed-loop to measure what it serves per second (its capacity,
 * on shapes-cnn with 64 images a request, so the model's compute is what runs out), then offered twice
 * that, open-loop (requests arrive on a clock whether or not earlier ones were answered). The origin
 * must shed what it cannot serve in time with 503 `overloaded` answered at once (it sheds by expected
 * wait, origin/load-shedding.ts), not let requests queue until they time out; nothing may go unanswered.
 * "At once": the origin's own time for a shed answer (its request log) has a p95 under its queueing
 * bound, and the client never gets a shed answer later than a served one (p95).
 */
import { encodeInferRequest } from '../../protocol/oip-codec.ts';
import { expectedNote, judge, loops, newResult, percentile, sample, sleep, type ScenarioResult } from './report.ts';
import { INFER_TOKEN, type RedteamStack } from './stack.ts';
import { describe } from './fuzz.ts';

/** The origin's bound on queueing delay (origin/load-shedding.ts DEFAULT_MAX_QUEUE_WAIT_MS). */
const SHED_P95_GOAL_MS = 250;
/** Images per request: one full batch (the origin's default 64 rows), so compute, not HTTP, runs out. */
const IMAGES = 64;

export async function overload(stack: RedteamStack, origin: string, capacitySeconds: number, overloadSeconds: number): Promise<ScenarioResult> {
  const result = newResult('overload 2x');
  const expected = new Map<string, number>();
  const crashedBefore = stack.crashes.length;
  result.rss.before = stack.rss();
  const url = `${stack.origin(origin).process.url}/v2/models/shapes-cnn/infer`;
  const data = new Float32Array(IMAGES * 28 * 28).map((_, i) => ((i * 37) % 255) / 255);
  const encoded = encodeInferRequest({ inputs: [{ name: 'image', dtype: 'float32', dims: [IMAGES, 1, 28, 28], data }] }, { binary: true });
  const headers = { ...encoded.headers, authorization: `Bearer ${INFER_TOKEN}` };

  const send = async (): Promise<{ status: number; ms: number } | undefined> => {
    const started = performance.now();
    result.tried++;
    try {
      const res = await fetch(url, { method: 'POST', body: encoded.body, headers, signal: AbortSignal.timeout(30_000) });
      const text = res.ok ? (await res.arrayBuffer(), '') : await res.text();
      const ms = performance.now() - started;
      if (!res.ok) judge(result, 'overload', 'POST', res.status, text, new Set(['overloaded']), expected);
      return { status: res.status, ms };
    } catch (err) {
      result.lost++;
      sample(result, `overload: no answer: ${describe(err)}`);
      return undefined;
    }
  };

  // Capacity: what the origin serves per second with more clients than it can keep up with.
  let served = 0;
  let running = true;
  const capacityStart = performance.now();
  await Promise.all([
    sleep(capacitySeconds * 1000).then(() => void (running = false)),
    loops(16, () => running, async () => {
      if ((await send())?.status === 200) served++;
    }),
  ]);
  const capacity = served / ((performance.now() - capacityStart) / 1000);

  // Twice that, open-loop; the origin's own timing of each shed answer (its request log's total_ms) too.
  const serverShed: number[] = [];
  const unsubscribe = stack.onOriginLog((name, entry) => {
    if (name === origin && entry.status === 503 && typeof entry.total_ms === 'number') serverShed.push(entry.total_ms);
  });
  const rate = 2 * capacity;
  const outcomes: Promise<{ status: number; ms: number } | undefined>[] = [];
  const offerStart = performance.now();
  for (let i = 0; performance.now() - offerStart < overloadSeconds * 1000; i++) {
    const due = offerStart + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    outcomes.push(send());
  }
  const answered = (await Promise.all(outcomes)).filter((o) => o !== undefined);
  await sleep(200); // The last log lines.
  unsubscribe();
  const offeredRate = outcomes.length / overloadSeconds;
  const shed = answered.filter((o) => o.status === 503).map((o) => o.ms);
  const ok = answered.filter((o) => o.status === 200).map((o) => o.ms);

  result.crashes = stack.crashes.length - crashedBefore;
  result.rss.after = stack.rss();
  result.figures = {
    capacity,
    offeredRate,
    servedRate: ok.length / overloadSeconds,
    shed: shed.length,
    shedP50: percentile(shed, 50),
    shedP95: percentile(shed, 95),
    servedP50: percentile(ok, 50),
    servedP95: percentile(ok, 95),
    shedServerP50: percentile(serverShed, 50),
    shedServerP95: percentile(serverShed, 95),
  };
  const f = result.figures;
  result.notes.push(
    `capacity ${f.capacity!.toFixed(0)}/s; offered ${f.offeredRate!.toFixed(0)}/s: served ${f.servedRate!.toFixed(0)}/s (p50 ${f.servedP50!.toFixed(0)} ms, p95 ${f.servedP95!.toFixed(0)} ms), ` +
      `shed ${shed.length} (p50 ${f.shedP50!.toFixed(0)} ms, p95 ${f.shedP95!.toFixed(0)} ms as the client saw them; ` +
      `p50 ${f.shedServerP50!.toFixed(1)} ms, p95 ${f.shedServerP95!.toFixed(1)} ms inside the origin)`,
  );
  if (shed.length === 0) result.missed.push('nothing was shed: the load did not reach twice the capacity');
  else {
    // At once: inside the origin well under its queueing bound, and never later than a served answer
    // (on a shared 2-core machine the client's own view includes waiting for a CPU).
    if (!(f.shedServerP95! < SHED_P95_GOAL_MS)) result.missed.push(`shed answers' p95 inside the origin ${f.shedServerP95!.toFixed(0)} ms is not under ${SHED_P95_GOAL_MS} ms`);
    if (!(f.shedP95! <= f.servedP95!)) result.missed.push(`shed answers' p95 ${f.shedP95!.toFixed(0)} ms is later than served answers' ${f.servedP95!.toFixed(0)} ms`);
  }
  const note = expectedNote(expected);
  if (note) result.notes.push(note);
  return result;
}

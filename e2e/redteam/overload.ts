/**
 * Overload: one origin is first driven closed-loop to measure what it serves per second (its capacity,
 * on shapes-cnn with 64 images a request, so the model's compute is what runs out), then offered twice
 * that, open-loop (requests arrive on a clock whether or not earlier ones were answered). The origin
 * must shed what it cannot serve in time with 503 `overloaded` answered at once (it sheds by expected
 * wait, origin/load-shedding.ts), not let requests queue until they time out; nothing may go unanswered.
 * "At once": the origin's own time for a shed answer (its request log) has a median under 50 ms and a
 * p95 under that of the answers it served.
 */
import { encodeInferRequest } from '../../protocol/oip-codec.ts';
import { expectedNote, judge, loops, newResult, percentile, sample, sleep, type ScenarioResult } from './report.ts';
import { INFER_TOKEN, type RedteamStack } from './stack.ts';
import { describe } from './fuzz.ts';

/** A shed answer's median time inside the origin: reading the request and refusing it. */
const SHED_P50_GOAL_MS = 50;
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
    loops(
      16,
      () => running,
      async () => {
        if ((await send())?.status === 200) served++;
      },
    ),
  ]);
  const capacity = served / ((performance.now() - capacityStart) / 1000);

  // Twice that, open-loop; the origin's own timing of each shed answer (its request log's total_ms) too.
  const serverShed: number[] = [];
  const serverServed: number[] = [];
  const unsubscribe = stack.onOriginLog((name, entry) => {
    if (name !== origin || typeof entry.total_ms !== 'number') return;
    if (entry.status === 503) serverShed.push(entry.total_ms);
    else if (entry.status === 200) serverServed.push(entry.total_ms);
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
    servedServerP50: percentile(serverServed, 50),
    servedServerP95: percentile(serverServed, 95),
  };
  const f = result.figures;
  result.notes.push(
    `capacity ${f.capacity!.toFixed(0)}/s; offered ${f.offeredRate!.toFixed(0)}/s: served ${f.servedRate!.toFixed(0)}/s (p50 ${f.servedP50!.toFixed(0)} ms, p95 ${f.servedP95!.toFixed(0)} ms), ` +
      `shed ${shed.length} (p50 ${f.shedP50!.toFixed(0)} ms, p95 ${f.shedP95!.toFixed(0)} ms); inside the origin: ` +
      `shed p50 ${f.shedServerP50!.toFixed(1)} ms, p95 ${f.shedServerP95!.toFixed(1)} ms, served p50 ${f.servedServerP50!.toFixed(1)} ms, p95 ${f.servedServerP95!.toFixed(1)} ms`,
  );
  if (shed.length === 0) result.missed.push('nothing was shed: the load did not reach twice the capacity');
  else {
    // At once, as the origin timed them (its request log): a shed answer takes a few milliseconds, and even
    // its slow tail is quicker than serving. (The client's own times include waiting for a CPU on a
    // shared machine; they are figures, not goals.)
    if (!(f.shedServerP50! < SHED_P50_GOAL_MS))
      result.missed.push(`shed answers' p50 inside the origin ${f.shedServerP50!.toFixed(0)} ms is not under ${SHED_P50_GOAL_MS} ms`);
    if (!(f.shedServerP95! < f.servedServerP95!))
      result.missed.push(
        `shed answers' p95 inside the origin ${f.shedServerP95!.toFixed(0)} ms is not under served answers' ${f.servedServerP95!.toFixed(0)} ms`,
      );
  }
  const note = expectedNote(expected);
  if (note) result.notes.push(note);
  return result;
}

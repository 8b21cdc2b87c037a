/**
 * Drain with keep-alive: an origin behind the edge gets SIGTERM while clients load it through the edge
 * and directly, on kept-alive connections. Through the edge no request may fail (the edge retries a
 * draining origin's 503 `shutting_down` on the other); directly, every request gets an answer (200, or
 * 503 `shutting_down` with `Connection: close`) and no connection is reset under a request; once the
 * origin has closed its listener, new connections are refused, which is not a reset. It must exit 0.
 */
import { judge, expectedNote, loops, newResult, sample, sleep, type ScenarioResult } from './report.ts';
import { INFER_TOKEN, KEYS, type RedteamStack } from './stack.ts';
import { MODEL, validBody } from './fuzz-cases.ts';
import { describe } from './fuzz.ts';

export async function drainWithKeepAlive(stack: RedteamStack, drained: string, loadSeconds: number): Promise<ScenarioResult> {
  const result = newResult('drain with keep-alive');
  const expected = new Map<string, number>();
  const crashedBefore = stack.crashes.length;
  result.rss.before = stack.rss();
  const direct = stack.origin(drained).process.url;
  let edgeRequests = 0;
  let edgeFailed = 0;
  let directRequests = 0;
  let resets = 0;
  let refusedConnections = 0;
  let shuttingDown = 0;
  let running = true;
  let directRunning = true;
  let listenerClosed = false;

  const throughEdge = loops(
    4,
    () => running,
    async (client, i) => {
      edgeRequests++;
      try {
        const res = await fetch(`${stack.edge.url}/v2/models/${MODEL}/infer`, {
          method: 'POST',
          body: JSON.stringify(validBody(1, i)),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}`, 'x-client-id': `drain-${client}` },
        });
        const text = await res.text();
        if (res.status !== 200) {
          edgeFailed++;
          result.lost++;
          judge(result, 'through the edge', 'POST', res.status, text, new Set(), expected);
          sample(result, `through the edge: HTTP ${res.status} ${text.slice(0, 160)}`);
        }
      } catch (err) {
        edgeFailed++;
        result.lost++;
        sample(result, `through the edge: no answer: ${describe(err)}`);
      }
    },
  );
  const directly = loops(
    2,
    () => directRunning,
    async (_, i) => {
      directRequests++;
      try {
        const res = await fetch(`${direct}/v2/models/${MODEL}/infer`, {
          method: 'POST',
          body: JSON.stringify(validBody(1, i)),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${INFER_TOKEN}` },
        });
        const text = await res.text();
        if (res.status === 200) return;
        const judged = judge(result, 'direct', 'POST', res.status, text, new Set(['shutting_down']), expected);
        if (judged.code === 'shutting_down') shuttingDown++;
        else {
          result.wrong++;
          sample(result, `direct during the drain: HTTP ${res.status} ${text.slice(0, 160)}`);
        }
      } catch (err) {
        const why = describe(err);
        if (/ECONNREFUSED/.test(why) && listenerClosed) {
          refusedConnections++;
          await sleep(20);
          return;
        }
        resets++;
        result.lost++;
        sample(result, `direct during the drain: ${why}`);
      }
    },
  );

  await sleep(loadSeconds * 500);
  const signalled = performance.now();
  const exit = stack.stopOrigin(drained, 'SIGTERM');
  // The origin stops listening at once; from then on a new connection is refused (not reset).
  listenerClosed = true;
  const code = await exit;
  const drainMs = performance.now() - signalled;
  directRunning = false;
  await directly;
  await sleep(loadSeconds * 500);
  running = false;
  await throughEdge;

  result.tried = edgeRequests + directRequests;
  result.crashes = stack.crashes.length - crashedBefore;
  result.rss.after = stack.rss();
  result.figures = { edgeRequests, edgeFailed, directRequests, resets, refusedConnections, shuttingDown, drainMs, exitCode: code };
  result.notes.push(
    `through the edge ${edgeRequests - edgeFailed}/${edgeRequests} answered 200; direct ${directRequests}: ${shuttingDown} × 503 shutting_down, ` +
      `${resets} reset, ${refusedConnections} refused after the listener closed; drained and exited ${code} in ${drainMs.toFixed(0)} ms`,
  );
  if (code !== 0) result.missed.push(`the drained origin exited ${code}, not 0`);
  const note = expectedNote(expected);
  if (note) result.notes.push(note);
  return result;
}

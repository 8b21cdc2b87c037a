/**
 * The fuzzer: sends generated bad requests (fuzz-cases.ts) to one tier, a few at a time, and judges every
 * answer by the error table (report.ts). Every `CONTROL_EVERY`th request is a valid inference whose
 * answer must equal the one the origin gave before the run: bad input around it must not change a good
 * answer. A request that gets no answer within its timeout is lost; a process that exits is a crash.
 */
import { connect } from 'node:net';
import { header, send, type RawAnswer } from './http.ts';
import { newResult, expectedNote, judge, sample, type ScenarioResult } from './report.ts';
import { generateCases, MODEL, validBody, type FuzzCase, type FuzzTargetCredentials } from './fuzz-cases.ts';

export interface FuzzTarget extends FuzzTargetCredentials {
  url: string;
  /** Whether a Tandem process behind this target has exited (a crash). */
  crashed: () => number;
  rss: () => number;
}

export interface FuzzOptions {
  count: number;
  seed: number;
  concurrency?: number;
  timeoutMs?: number;
}

const CONTROL_EVERY = 25;

/** The probabilities a valid request gets, for comparing control answers. */
async function controlAnswer(target: FuzzTarget): Promise<{ status: number; probabilities: number[] | undefined; error?: string }> {
  const res = await send(`${target.url}/v2/models/${MODEL}/versions/1.0.0/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: target.authorization },
    body: JSON.stringify(validBody(1, 42)),
    timeoutMs: 15_000,
  });
  const text = res.body.toString('utf8');
  if (res.status !== 200) return { status: res.status, probabilities: undefined, error: text.slice(0, 200) };
  const body = JSON.parse(text) as { outputs: { name: string; data: number[] }[] };
  return { status: res.status, probabilities: body.outputs.find((o) => o.name === 'probabilities')?.data };
}

/** Sends raw bytes and reads the answer's status line and body (the connection closes after one answer). */
function sendRaw(url: string, raw: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) settle();
      else reject(err);
    });
    const settle = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      if (status === 0) reject(new Error(`closed without an HTTP answer (${chunks.length} chunks)`));
      else resolve({ status, body });
    };
    socket.on('end', settle);
    socket.write(raw, 'latin1');
  });
}

function sendCase(base: string, c: FuzzCase, timeoutMs: number): Promise<RawAnswer> {
  return send(`${base}${c.path}`, { method: c.method, headers: c.headers, ...(c.body === undefined ? {} : { body: c.body }), timeoutMs });
}

/**
 * The edge's answer when every origin it tried shed the request (a fuzz case that asks for hundreds of
 * rows while others run): 502 `origin_unavailable` whose every attempt was a 503 `overloaded`. The
 * documented answer to overload through the edge, not a fault.
 */
function isShedEverywhere(target: FuzzTargetCredentials, status: number, body: string): boolean {
  if (target.tier !== 'edge' || status !== 502) return false;
  try {
    const { error } = JSON.parse(body) as { error: { code: string; message: string } };
    const attempts = error.message.replace(/^no origin could answer: /, '').split('; ');
    return error.code === 'origin_unavailable' && attempts.length > 0 && attempts.every((a) => / HTTP 503 overloaded$/.test(a));
  } catch {
    return false;
  }
}

/**
 * Runs `options.count` generated cases against `target`.
 * @example
 * const result = await fuzz({ tier: 'origin', url, authorization: 'Bearer t', crashed: () => 0, rss: () => 0 }, { count: 1000, seed: 7 });
 */
export async function fuzz(target: FuzzTarget, options: FuzzOptions): Promise<ScenarioResult> {
  const result = newResult(`fuzz ${target.tier}`);
  const expected = new Map<string, number>();
  const timeoutMs = options.timeoutMs ?? 20_000;
  const reference = await controlAnswer(target);
  if (!reference.probabilities) throw new Error(`fuzz ${target.tier}: the control request failed before the run: HTTP ${reference.status} ${reference.error}`);
  const crashedBefore = target.crashed();
  result.rss.before = target.rss();
  const cases = generateCases(target, options.count, options.seed);
  const kinds = new Map<string, number>();
  let controls = 0;
  let runtime = 0;
  let next = 0;
  const started = performance.now();

  const runCase = async (c: FuzzCase) => {
    kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
    const what = `${c.kind} ${c.method} ${c.path.slice(0, 80)}`;
    try {
      if (c.raw !== undefined) {
        const answer = await sendRaw(target.url, c.raw, timeoutMs);
        judge(result, what, 'RAW', answer.status, answer.body, EXPECTED_5XX, expected);
        return;
      }
      const answer = await sendCase(target.url, c, timeoutMs);
      const body = answer.body.toString('utf8');
      if (target.tier === 'edge' && answer.status === 501 && !STANDARD_METHODS.has(c.method.toUpperCase()) && header(answer, 'x-request-id') === undefined) {
        // workerd answers a method it does not know before the Worker runs: not Tandem's answer.
        runtime++;
        return;
      }
      if (c.method === 'HEAD' && answer.status >= 500) {
        // A HEAD answer has no body to tell its code by: ask again with GET.
        const again = await sendCase(target.url, { ...c, method: 'GET' }, timeoutMs);
        judge(result, `${what} (as GET)`, 'GET', again.status, again.body.toString('utf8'), EXPECTED_5XX, expected);
        return;
      }
      if (isShedEverywhere(target, answer.status, body)) {
        expected.set('origin_unavailable (every attempt shed)', (expected.get('origin_unavailable (every attempt shed)') ?? 0) + 1);
        return;
      }
      judge(result, what, c.method, answer.status, body, EXPECTED_5XX, expected);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('ERR_INVALID') || (err as { code?: string }).code === 'ERR_UNESCAPED_CHARACTERS') {
        // The client library would not send it: not a request.
        kinds.set('not-sendable', (kinds.get('not-sendable') ?? 0) + 1);
        return;
      }
      if (target.tier === 'edge' && !STANDARD_METHODS.has(c.method.toUpperCase())) {
        // workerd closes on a method it does not know, before reading a body the client is still sending.
        runtime++;
        return;
      }
      result.lost++;
      sample(result, `${what}: no answer: ${describe(err)}`);
    }
  };

  const runControl = async () => {
    controls++;
    try {
      const answer = await controlAnswer(target);
      const same =
        answer.probabilities?.length === reference.probabilities!.length &&
        answer.probabilities.every((p, i) => Math.abs(p - reference.probabilities![i]!) < 1e-5);
      if (!same) {
        result.wrong++;
        sample(result, `control: HTTP ${answer.status} ${answer.error ?? 'different probabilities'}`);
      }
    } catch (err) {
      result.lost++;
      sample(result, `control: no answer: ${describe(err)}`);
    }
  };

  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, async () => {
      while (next < cases.length) {
        const i = next++;
        if (i % CONTROL_EVERY === 0) await runControl();
        await runCase(cases[i]!);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  result.tried = cases.length - (kinds.get('not-sendable') ?? 0) + controls;
  result.crashes = target.crashed() - crashedBefore;
  result.rss.after = target.rss();
  result.notes.push(
    `${cases.length} generated cases (seed ${options.seed}) + ${controls} controls in ${seconds.toFixed(1)} s: ` +
      [...kinds].map(([k, n]) => `${k} ${n}`).join(', '),
  );
  const note = expectedNote(expected);
  if (note) result.notes.push(note);
  if (runtime > 0)
    result.notes.push(`not Tandem's: ${runtime} requests with a method workerd does not know, refused (501, or closed under the body) before the Worker runs`);
  result.figures = { cases: cases.length, controls, runtime, seconds };
  return result;
}

/**
 * 5xx a fuzz request may rightly get: shed under load, or the documented answer for the repository's
 * refused version (2.0.0, whose manifest fails its signature) when a generated path names it.
 */
const EXPECTED_5XX = new Set(['overloaded', 'model_not_ready']);

const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${err.message}: ${cause.code ?? ''} ${cause.message ?? ''}`.trim() : err.message;
}

/**
 * What each red-team scenario counts, how an answer is judged, and the table printed at the end.
 *
 * An answer is judged by the error table (protocol/errors.ts): every error must carry the documented
 * body `{ "error": { "code", "message", "request_id"? } }` with the status of its code, or it is a wrong
 * answer; a 5xx is Tandem's fault unless the scenario expects that code (a shed `overloaded`, a refused
 * version's `model_not_ready`); a request that gets no answer at all is lost.
 */
import { ERRORS, isErrorCode, type ErrorCode } from '../../protocol/errors.ts';

export interface ScenarioResult {
  name: string;
  /** Requests (or checks) made. */
  tried: number;
  /** 5xx answers not expected of the scenario: a bug in Tandem, or an answer nobody documented. */
  tandem5xx: number;
  /** Tandem processes that exited without being told to. */
  crashes: number;
  /** Answers that are wrong: an undocumented error body, a wrong status, a wrong result, bytes served that should not be. */
  wrong: number;
  /** Requests that got no answer (through the edge), or connections reset at a drain. */
  lost: number;
  /** Resident memory of the Tandem processes involved, MiB, before and after. */
  rss: { before: number; after: number };
  /** The scenario's own goals it missed (a drain that did not exit 0, shed answers that were slow...). */
  missed: string[];
  /** The scenario's figures by name (latencies in ms, rates per second). */
  figures: Record<string, number>;
  /** Expected refusals by code, figures, and the first few findings. */
  notes: string[];
  samples: string[];
}

export function newResult(name: string): ScenarioResult {
  return { name, tried: 0, tandem5xx: 0, crashes: 0, wrong: 0, lost: 0, rss: { before: 0, after: 0 }, missed: [], figures: {}, notes: [], samples: [] };
}

const MAX_SAMPLES = 8;

export function sample(result: ScenarioResult, line: string): void {
  if (result.samples.length < MAX_SAMPLES) result.samples.push(line.slice(0, 400));
}

export interface Judged {
  ok: boolean;
  code?: ErrorCode;
}

/**
 * Judges one HTTP answer and counts it on `result`.
 * @param expected5xx codes whose 5xx answers the scenario expects (counted in `expected`, not as faults).
 */
export function judge(
  result: ScenarioResult,
  what: string,
  method: string,
  status: number,
  body: string,
  expected5xx: ReadonlySet<string>,
  expected: Map<string, number>,
): Judged {
  if (status < 400) return { ok: status < 300 };
  if (method === 'HEAD') {
    if (status >= 500) {
      result.tandem5xx++;
      sample(result, `${what}: HEAD ${status}`);
    }
    return { ok: false };
  }
  let code: unknown;
  try {
    // The documented bodies: OIP's on /v2 (`{"error": message, "code", "request_id"}`), Tandem's on /v1.
    const parsed = JSON.parse(body) as { error?: unknown; code?: unknown; request_id?: unknown };
    const requestIdOk = (id: unknown) => id === undefined || typeof id === 'string';
    if (typeof parsed.error === 'string' && requestIdOk(parsed.request_id)) code = parsed.code;
    else if (typeof parsed.error === 'object' && parsed.error !== null) {
      const error = parsed.error as { code?: unknown; message?: unknown; request_id?: unknown };
      if (typeof error.message === 'string' && requestIdOk(error.request_id)) code = error.code;
    }
  } catch {
    // Not JSON: not the documented body.
  }
  if (!isErrorCode(code) || ERRORS[code].status !== status) {
    result.wrong++;
    sample(result, `${what}: HTTP ${status} without the documented body: ${body.slice(0, 160)}`);
    if (status >= 500) result.tandem5xx++;
    return { ok: false };
  }
  if (status >= 500) {
    if (expected5xx.has(code)) expected.set(code, (expected.get(code) ?? 0) + 1);
    else {
      result.tandem5xx++;
      sample(result, `${what}: ${status} ${code}: ${body.slice(0, 200)}`);
    }
  }
  return { ok: false, code };
}

/** `expected` as a note: "503 model_not_ready × 12". */
export function expectedNote(expected: Map<string, number>): string | undefined {
  if (expected.size === 0) return undefined;
  const status = (code: string) => (isErrorCode(code) ? `${ERRORS[code].status} ` : '');
  return `expected refusals: ${[...expected].map(([code, n]) => `${status(code)}${code} × ${n}`).join(', ')}`;
}

/** Nearest-rank percentile of `values` (ms), or NaN. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Whether a scenario met every goal: no Tandem 5xx, no crash, no wrong answer, nothing lost, memory bounded, its own. */
export function metGoals(result: ScenarioResult): boolean {
  return result.tandem5xx === 0 && result.crashes === 0 && result.wrong === 0 && result.lost === 0 && rssBounded(result) && result.missed.length === 0;
}

/** Memory after a scenario at most 1.5 × before plus 128 MiB (a leak of one buffer per request would pass neither). */
export function rssBounded(result: ScenarioResult): boolean {
  return result.rss.after <= result.rss.before * 1.5 + 128;
}

export function renderTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'tried', 'Tandem 5xx', 'crashes', 'wrong', 'lost', 'RSS MiB before → after', 'goals'];
  const rows = results.map((r) => [
    r.name,
    String(r.tried),
    String(r.tandem5xx),
    String(r.crashes),
    String(r.wrong),
    String(r.lost),
    `${Math.round(r.rss.before)} → ${Math.round(r.rss.after)}`,
    metGoals(r) ? 'met' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  for (const r of results) {
    for (const note of r.notes) out.push(`  ${r.name}: ${note}`);
    for (const goal of r.missed) out.push(`  ${r.name} MISSED: ${goal}`);
    if (!rssBounded(r)) out.push(`  ${r.name} MISSED: memory grew from ${Math.round(r.rss.before)} to ${Math.round(r.rss.after)} MiB`);
    for (const s of r.samples) out.push(`  ${r.name} finding: ${s}`);
  }
  return out.join('\n');
}

/** Runs `clients` loops of `task` while `running()` holds. */
export async function loops(clients: number, running: () => boolean, task: (client: number, i: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; running(); i++) await task(client, i);
    }),
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

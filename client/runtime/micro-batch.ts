/**
 * Micro-batching in the Web Worker: concurrent runs of one session coalesced into one `session.run`.
 *
 * A page that runs a model for several items at once (a list of images, a burst of keystrokes) sends
 * the worker one run per item. Each `session.run` pays a fixed cost (feeds, kernel dispatch, the copy
 * out of the WASM heap) that a small model's compute barely exceeds, so rows computed together cost
 * much less than the same rows one run at a time. Callers' rows are concatenated along dimension 0, run
 * once, and the outputs split back by each caller's row count.
 *
 * Only where that is exact, by the rule the origin follows (protocol/row-batching.ts): the variant's every
 * input and output leads with the same dynamic dimension, or its manifest says `batching: rows` (measured
 * by `tandem import`), never `none`; and its rows are computed independently (not with dynamic int8
 * quantization, whose activation ranges span the whole batch). Two calls share a run only when they
 * agree on every input's dtype and trailing dimensions and on the outputs they ask for. Anything else
 * runs alone, in the same queue.
 *
 * When: one batch runs at a time per session. A caller that finds the session idle is dispatched on the
 * next task, not at once: messages the page posted in the same burst are already in the worker's task
 * queue, and they join it first; a lone caller pays that one task hop, no timer. Callers that arrive
 * while a batch computes queue, and go together when it ends. `maxDelayMs` > 0 lets the oldest caller
 * wait that long for companions (dispatched sooner once `maxBatch` rows are waiting).
 *
 * A queued caller whose run is aborted leaves the queue and rejects with `aborted`; a dispatched one
 * cannot be taken back (onnxruntime cannot be interrupted), its answer is simply not awaited. A batch
 * that fails is run again one caller at a time: the failure may be one caller's input (an index out of
 * range, a value a kernel refuses), and then only that caller fails. An output whose leading dimension
 * turns out not to be the batch's rows stops coalescing for the session (its callers run again alone).
 */
import { concatRows, splitRows } from '../../protocol/batch-rows.ts';
import { TandemError } from '../../protocol/errors.ts';
import { rowBatchingRefusal } from '../../protocol/row-batching.ts';
import { tensorsByName, type NamedTensors, type Tensor } from '../../protocol/tensor.ts';
import type { Warn } from '../core/store.ts';
import type { BatchingStats, MicroBatchOptions, RunResult, VariantSignature } from './contract.ts';

/**
 * Why a variant's runs may not be coalesced, or undefined when they may: the rule the origin's batcher
 * follows too (protocol/row-batching.ts).
 * @example
 * batchingRefusal({ inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }], quantization: 'none' }); // undefined
 */
export function batchingRefusal(signature: VariantSignature | undefined): string | undefined {
  return signature ? rowBatchingRefusal(signature) : 'the variant signature is unknown';
}

/**
 * The key two runs must share to be coalesced, with the rows this one brings; undefined when it must
 * run alone (no input, a scalar, inputs that disagree on their rows, or no rows at all).
 * @example
 * batchKey({ x: { dtype: 'float32', dims: [3, 4], data } })?.rows; // 3
 */
export function batchKey(inputs: NamedTensors, outputNames?: readonly string[]): { key: string; rows: number } | undefined {
  let rows: number | undefined;
  const parts: string[] = [];
  for (const name of Object.keys(inputs).sort()) {
    const t = inputs[name]!;
    const first = t.dims[0];
    if (first === undefined || (rows !== undefined && first !== rows)) return undefined;
    rows = first;
    parts.push(`${name}:${t.dtype}[${t.dims.slice(1).join(',')}]`);
  }
  if (rows === undefined || rows < 1) return undefined;
  return { key: JSON.stringify([parts, outputNames ? [...outputNames].sort() : null]), rows };
}

/** The one channel `nextTask` posts through, and what waits on it: a channel per hop would cost more than the hop. */
let hops: { port: MessagePort; waiting: (() => void)[] } | undefined;

/** Runs `fn` on a next task: after the messages already delivered to this worker (a posted message queues behind them). */
export function nextTask(fn: () => void): void {
  if (typeof MessageChannel === 'undefined') {
    setTimeout(fn, 0);
    return;
  }
  if (!hops) {
    const channel = new MessageChannel();
    const waiting: (() => void)[] = [];
    // One message per waiting callback, so each runs on its own task, in order.
    channel.port1.onmessage = () => waiting.shift()?.();
    // In Node (tests, tools) a listening port would keep the process alive once nothing else does.
    (channel.port1 as { unref?: () => void }).unref?.();
    hops = { port: channel.port2, waiting };
  }
  hops.waiting.push(fn);
  hops.port.postMessage(null);
}

/** One uncoalesced run of the session: what the device runtime does for a lone caller. */
export type Execute = (inputs: NamedTensors, outputNames: readonly string[] | undefined) => Promise<RunResult>;

export interface MicroBatcherDeps {
  execute: Execute;
  /** `maxBatch` already capped by the variant's own. */
  options: MicroBatchOptions;
  /** Counters shared by every session's batcher (`RuntimeStats.batching`). */
  stats?: BatchingStats;
  nextTask?: (fn: () => void) => void;
  now?: () => number;
  warn?: Warn;
}

export interface MicroBatcher {
  /** Queues one caller's run; resolves with its own outputs. @throws TandemError `aborted` when `signal` fires before dispatch. */
  run(inputs: NamedTensors, outputNames: readonly string[] | undefined, signal?: AbortSignal): Promise<RunResult>;
  /** Why this session stopped coalescing (an output that did not scale with the batch), if it did. */
  readonly stopped: string | undefined;
}

interface Pending {
  inputs: NamedTensors;
  outputNames: readonly string[] | undefined;
  /** Undefined: runs alone. */
  key: string | undefined;
  rows: number;
  enqueuedAt: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  resolve: (result: RunResult) => void;
  reject: (reason: unknown) => void;
}

const aborted = () => new TandemError('aborted', 'the run was aborted before it started');

/**
 * @example
 * const batcher = createMicroBatcher({ execute: (inputs, outputs) => runOnce(entry, inputs, outputs), options: DEFAULT_MICRO_BATCH });
 * const [a, b] = await Promise.all([batcher.run({ x: one }, undefined), batcher.run({ x: two }, undefined)]); // one session.run
 */
export function createMicroBatcher(deps: MicroBatcherDeps): MicroBatcher {
  const { maxBatch, maxDelayMs } = deps.options;
  const now = deps.now ?? (() => performance.now());
  const hop = deps.nextTask ?? nextTask;
  const stats = deps.stats ?? { runs: 0, callers: 0 };
  const queue: Pending[] = [];
  let busy = false;
  /** The scheduled dispatch: when it fires, and how to cancel it. */
  let wake: { at: number; cancel: () => void } | undefined;
  let stopped: string | undefined;

  const shares = (p: Pending) => p.key !== undefined && stopped === undefined;

  /** The next batch: the oldest caller and, when it can share, later callers with its key, up to `maxBatch` rows. */
  function take(): Pending[] {
    const head = queue[0]!;
    const members = [head];
    let rows = head.rows;
    if (shares(head)) {
      for (const p of queue.slice(1)) {
        if (p.key === head.key && rows + p.rows <= maxBatch) {
          members.push(p);
          rows += p.rows;
        }
      }
    }
    return members;
  }

  const full = (members: Pending[]) => !shares(members[0]!) || members.reduce((n, p) => n + p.rows, 0) >= maxBatch;

  /** Schedules the next dispatch, if a caller waits and no batch runs. */
  function pump(): void {
    if (busy || queue.length === 0) return;
    const at = full(take()) ? now() : queue[0]!.enqueuedAt + maxDelayMs;
    if (wake && wake.at <= at) return;
    wake?.cancel();
    let live = true;
    const fire = () => {
      if (!live) return;
      wake = undefined;
      if (busy || queue.length === 0) return;
      const members = take();
      if (full(members) || now() >= queue[0]!.enqueuedAt + maxDelayMs) void dispatch(members);
      else pump(); // The caller it waited for left; the new oldest waits its own delay.
    };
    const delay = at - now();
    if (delay <= 0) {
      hop(fire);
      wake = { at, cancel: () => (live = false) };
    } else {
      const timer = setTimeout(fire, delay);
      wake = { at, cancel: () => clearTimeout(timer) };
    }
  }

  async function dispatch(members: Pending[]): Promise<void> {
    busy = true;
    for (const p of members) {
      queue.splice(queue.indexOf(p), 1);
      if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    }
    try {
      if (members.length === 1) await alone(members[0]!);
      else await together(members);
    } finally {
      busy = false;
      pump();
    }
  }

  async function alone(p: Pending): Promise<void> {
    if (p.signal?.aborted) return p.reject(aborted());
    stats.runs++;
    stats.callers++;
    try {
      p.resolve({ ...(await deps.execute(p.inputs, p.outputNames)), batchCallers: 1 });
    } catch (err) {
      p.reject(err);
    }
  }

  async function oneByOne(members: Pending[]): Promise<void> {
    for (const p of members) await alone(p);
  }

  async function together(members: Pending[]): Promise<void> {
    const rows = members.map((p) => p.rows);
    const total = rows.reduce((a, b) => a + b, 0);
    const inputs = tensorsByName();
    for (const name of Object.keys(members[0]!.inputs)) inputs[name] = concatRows(members.map((p) => p.inputs[name]!));
    let result: RunResult;
    stats.runs++;
    try {
      result = await deps.execute(inputs, members[0]!.outputNames);
    } catch {
      // Perhaps one caller's input: each runs alone, and gets its own answer or its own error.
      return oneByOne(members);
    }
    const odd = Object.entries(result.outputs).find(([, t]) => t.dims[0] !== total);
    if (odd) {
      stopped = `output ${odd[0]} had ${String(odd[1].dims[0])} rows for a batch of ${total}: its first dimension does not follow the batch`;
      deps.warn?.(`micro-batching stopped for this session: ${stopped}`);
      return oneByOne(members);
    }
    stats.callers += members.length;
    const pieces: Record<string, Tensor[]> = {};
    for (const [name, t] of Object.entries(result.outputs)) pieces[name] = splitRows(t, rows).map(ownBuffer);
    members.forEach((p, i) => {
      const outputs = tensorsByName();
      for (const name of Object.keys(pieces)) outputs[name] = pieces[name]![i]!;
      p.resolve({ outputs, backend: result.backend, computeMs: result.computeMs, batchCallers: members.length });
    });
  }

  return {
    run(inputs, outputNames, signal) {
      if (signal?.aborted) return Promise.reject(aborted());
      return new Promise<RunResult>((resolve, reject) => {
        const shape = batchKey(inputs, outputNames);
        const p: Pending = {
          inputs,
          outputNames,
          key: shape?.key,
          rows: shape?.rows ?? 0,
          enqueuedAt: now(),
          signal,
          onAbort: undefined,
          resolve,
          reject,
        };
        if (signal) {
          p.onAbort = () => {
            const index = queue.indexOf(p);
            if (index < 0) return; // Dispatched: its answer is simply not awaited.
            queue.splice(index, 1);
            reject(aborted());
            pump();
          };
          signal.addEventListener('abort', p.onAbort, { once: true });
        }
        queue.push(p);
        pump();
      });
    },
    get stopped() {
      return stopped;
    },
  };
}

/** A caller's piece with a buffer of its own, so that each is transferred to the page on its own. */
function ownBuffer(t: Tensor): Tensor {
  return Array.isArray(t.data) ? t : ({ ...t, data: t.data.slice() } as Tensor);
}

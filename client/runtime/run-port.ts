/**
 * The run path between the page and the Web Worker: one `MessageChannel` of its own, one flat message
 * each way, instead of a comlink call. A run is the call an app makes hundreds of times a second, and
 * comlink's envelope (a random request id string, a listener added and removed per call, the wire-value
 * wrapping of every argument and of the answer) cost more than the run itself for a small model: the
 * benchmark measured the SDK's run at 1.24 times raw onnxruntime-web's through a minimal postMessage
 * worker (docs/performance.md, Client). Everything else (init, load with its progress callback, stats)
 * stays on comlink, where its cost is paid once.
 *
 * An input of `TRANSFER_MIN_BYTES` or more goes over as a copy whose buffer is transferred, a smaller one
 * by the message's structured clone (copied as it is serialized): the caller's arrays are never
 * detached, and stay intact for an origin fallback. A small view onto a larger buffer is copied first,
 * or the clone would copy the whole buffer. Outputs come back transferred (the worker's own buffers); a
 * failure crosses as `serializeThrown` writes it, so a TandemError keeps its code.
 */
import { tensorsByName, transferablesOf, type NamedTensors, type Tensor } from '../../protocol/tensor.ts';
import {
  reviveError,
  serializeThrown,
  TRANSFER_MIN_BYTES,
  type DeviceRunOptions,
  type DeviceRuntime,
  type RunResult,
  type SerializedThrow,
} from './contract.ts';

interface RunRequest {
  id: number;
  sessionId: string;
  inputs: NamedTensors;
  outputNames: string[] | undefined;
  options: DeviceRunOptions | undefined;
}

type RunReply = { id: number; result: RunResult } | { id: number; error: SerializedThrow };

/** The page's side: `run` over `port`, answers paired with their calls by id. */
export function runOverPort(port: MessagePort): DeviceRuntime['run'] {
  const pending = new Map<number, (reply: RunReply) => void>();
  let next = 0;
  port.onmessage = ({ data }: MessageEvent<RunReply>) => {
    pending.get(data.id)?.(data);
    pending.delete(data.id);
  };
  return (sessionId, inputs, outputNames, options) =>
    new Promise<RunResult>((resolve, reject) => {
      const id = ++next;
      pending.set(id, (reply) => ('result' in reply ? resolve(reply.result) : reject(reviveError(reply.error))));
      const sent = tensorsByName();
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(inputs)) {
        let data = t.data;
        if (!Array.isArray(data) && (data.byteLength >= TRANSFER_MIN_BYTES || data.byteLength !== data.buffer.byteLength)) {
          data = data.slice();
          if (data.byteLength >= TRANSFER_MIN_BYTES) transfer.push(data.buffer as ArrayBuffer);
        }
        sent[name] = { ...t, data } as Tensor;
      }
      port.postMessage({ id, sessionId, inputs: sent, outputNames, options } satisfies RunRequest, transfer);
    });
}

/** The worker's side: answers every run that arrives on `port` with `run`'s result or failure. */
export function serveRuns(port: MessagePort, run: DeviceRuntime['run']): void {
  port.onmessage = async ({ data: r }: MessageEvent<RunRequest>) => {
    let reply: RunReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = await run(r.sessionId, r.inputs, r.outputNames, r.options);
      reply = { id: r.id, result };
      transfer = transferablesOf(Object.values(result.outputs));
    } catch (err) {
      reply = { id: r.id, error: serializeThrown(err) };
    }
    try {
      port.postMessage(reply, transfer);
    } catch (err) {
      // An answer that cannot be cloned (a runtime an app brings that returns a function, say): the
      // caller gets the reason instead of waiting forever.
      port.postMessage({ id: r.id, error: serializeThrown(err) } satisfies RunReply);
    }
  };
}

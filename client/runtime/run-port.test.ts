import { afterEach, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { TRANSFER_MIN_BYTES, type DeviceRuntime, type RunResult } from './contract.ts';
import { runOverPort, serveRuns } from './run-port.ts';

const open: MessagePort[] = [];
afterEach(() => {
  for (const port of open.splice(0)) port.close();
});

/** Both ends of a channel: the page's `run`, and what the worker's side received. */
function connect(run: DeviceRuntime['run']): DeviceRuntime['run'] {
  const { port1, port2 } = new MessageChannel();
  open.push(port1, port2);
  serveRuns(port2, run);
  return runOverPort(port1);
}

const floats = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

describe('the run channel', () => {
  it('answers each call with its own result, whatever order the worker finishes in', async () => {
    const received: { sessionId: string; outputNames: string[] | undefined; options: unknown }[] = [];
    const run = connect(async (sessionId, inputs, outputNames, options) => {
      received.push({ sessionId, outputNames, options });
      const x = inputs.x!.data as Float32Array;
      // The first call answers last.
      if (x[0] === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      return { outputs: { y: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(x[0]! * 10) } }, backend: 'wasm', computeMs: 1 };
    });
    const [a, b] = await Promise.all([
      run('s1', { x: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(0) } }, ['y'], { requestId: 'r1' }),
      run('s2', { x: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(7) } }),
    ]);
    expect(a.outputs.y!.data).toEqual(Float32Array.of(0));
    expect(b.outputs.y!.data).toEqual(Float32Array.of(70));
    expect(b).toMatchObject({ backend: 'wasm', computeMs: 1 });
    expect(received).toEqual([
      { sessionId: 's1', outputNames: ['y'], options: { requestId: 'r1' } },
      { sessionId: 's2', outputNames: undefined, options: undefined },
    ]);
  });

  it("moves the worker's outputs back by transfer", async () => {
    let sent: Float32Array | undefined;
    const run = connect(async () => {
      sent = floats(1024);
      return { outputs: { y: { dtype: 'float32', dims: [1024], data: sent } }, backend: 'wasm', computeMs: 0 } as RunResult;
    });
    const result = await run('s', { x: { dtype: 'float32', dims: [1], data: floats(1) } });
    expect(result.outputs.y!.data).toEqual(floats(1024));
    expect(sent!.byteLength, 'detached on the worker side').toBe(0);
  });

  it("never detaches the caller's arrays: a large input goes as a transferred copy, a small one by clone, a view with its own bytes only", async () => {
    const seen: NamedTensors[] = [];
    const run = connect(async (_id, inputs) => {
      seen.push(inputs);
      return { outputs: {} } as RunResult;
    });
    const large = floats(TRANSFER_MIN_BYTES / 4);
    const small = floats(16);
    const backing = floats(100_000);
    const view = backing.subarray(10, 14);
    await run('s', {
      large: { dtype: 'float32', dims: [large.length], data: large },
      small: { dtype: 'float32', dims: [16], data: small },
      view: { dtype: 'float32', dims: [4], data: view },
      text: { dtype: 'string', dims: [1], data: ['hello'] },
    });
    expect([large.byteLength, small.byteLength, backing.byteLength]).toEqual([TRANSFER_MIN_BYTES, 64, 400_000]);
    const got = seen[0]!;
    expect(got.large!.data).toEqual(large);
    expect(got.small!.data).toEqual(small);
    expect(got.view!.data).toEqual(Float32Array.of(10, 11, 12, 13));
    expect((got.view!.data as Float32Array).buffer.byteLength, 'not the whole backing buffer').toBe(16);
    expect(got.text!.data).toEqual(['hello']);
  });

  it('rejects with the TandemError the worker threw, code intact', async () => {
    const run = connect(async () => {
      throw new TandemError('model_not_ready', 'session s is not loaded', { requestId: 'q' });
    });
    const err = await run('s', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TandemError);
    expect(err).toMatchObject({ code: 'model_not_ready', message: 'session s is not loaded', requestId: 'q' });
  });

  it('rejects, never hangs, when the answer cannot be cloned', async () => {
    const run = connect(async () => ({ outputs: {}, backend: (() => 'wasm') as unknown }) as RunResult);
    const err = await run('s', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/clone/i);
  });
});

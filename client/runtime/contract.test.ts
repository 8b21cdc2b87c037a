import { expose, transfer, wrap } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { transferablesOf, type NamedTensors } from '../../protocol/tensor.ts';
import { installErrorTransfer, type DeviceRuntime } from './contract.ts';

installErrorTransfer();

/** Only the methods these tests call; the rest of the contract is not reached. */
const fakeRuntime = {
  async run(sessionId: string, inputs: NamedTensors) {
    if (sessionId === 'typed') throw new TandemError('overloaded', 'busy', { retryAfterSeconds: 3, requestId: 'r1', cause: new Error('queue') });
    if (sessionId === 'plain') throw new RangeError('plain failure');
    const x = inputs.x!;
    const outputs: NamedTensors = { y: { dtype: 'float32', dims: x.dims, data: new Float32Array((x.data as Float32Array).map((v) => v * 2)) } };
    return transfer({ outputs, backend: 'wasm' as const, computeMs: 0 }, transferablesOf(Object.values(outputs)));
  },
};

const channels: MessageChannel[] = [];
afterEach(() => channels.splice(0).forEach((c) => (c.port1.close(), c.port2.close())));

function connect() {
  const channel = new MessageChannel();
  channels.push(channel);
  expose(fakeRuntime, channel.port1);
  return wrap<Pick<DeviceRuntime, 'run'>>(channel.port2);
}

describe('worker contract over comlink', () => {
  it('a TandemError keeps its class, code, retry hint, request id and cause across the boundary', async () => {
    const err = await connect()
      .run('typed', {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TandemError);
    expect(err).toMatchObject({ code: 'overloaded', message: 'busy', retryAfterSeconds: 3, requestId: 'r1', name: 'TandemError' });
    expect(((err as TandemError).cause as Error).message).toBe('queue');
  });

  it('any other error arrives as an Error with its name and message', async () => {
    const err = await connect()
      .run('plain', {})
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RangeError', message: 'plain failure' });
  });

  it('tensors cross as {dtype, dims, data} with their buffers transferred, not copied', async () => {
    const data = new Float32Array([1, 2, 3]);
    const inputs: NamedTensors = { x: { dtype: 'float32', dims: [1, 3], data } };
    const result = await connect().run('ok', transfer(inputs, transferablesOf(Object.values(inputs))));
    expect(data.byteLength).toBe(0); // Detached: it moved to the other side.
    expect(result.outputs.y).toEqual({ dtype: 'float32', dims: [1, 3], data: new Float32Array([2, 4, 6]) });
  });
});

/**
 * A seeded pseudo-random generator for everything the model builds draw: data sets, random features,
 * weights. Only 32-bit integer operations and exact float arithmetic are used (no Math.random, no
 * Math.log/cos, whose last bits may differ between JavaScript engines), so a seed yields the same numbers
 * on every machine and Node version. The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counter).
 */
import { hash32 } from '../../protocol/hash32.ts';

/** A stream of pseudo-random numbers. */
export interface Rng {
  /** An unsigned 32-bit integer. */
  nextUint32(): number;
  /** A float in [0, 1) with 32 random bits. */
  uniform(): number;
  /** A float in [low, high). */
  range(low: number, high: number): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /**
   * An approximately standard normal value: the Irwin-Hall sum of 12 uniforms minus 6 (mean 0, variance 1,
   * bounded by ±6). Exact arithmetic only, unlike Box-Muller.
   */
  normal(): number;
  /** An independent stream named by `label`, the same whatever was drawn from this one. */
  fork(label: string): Rng;
}

const TWO_POW_32 = 4294967296;

/**
 * Creates a generator from a seed string.
 * @example
 * const rng = createRng('mlp-classifier/data');
 * const x = rng.normal();
 */
export function createRng(seed: string): Rng {
  let a = hash32(seed, 1);
  let b = hash32(seed, 2);
  let c = hash32(seed, 3);
  let d = 1;
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) nextUint32();
  const uniform = (): number => nextUint32() / TWO_POW_32;
  return {
    nextUint32,
    uniform,
    range: (low, high) => low + (high - low) * uniform(),
    int: (n) => Math.floor(uniform() * n),
    normal: () => {
      let sum = 0;
      for (let i = 0; i < 12; i++) sum += nextUint32();
      return sum / TWO_POW_32 - 6;
    },
    fork: (label) => createRng(`${seed}/${label}`),
  };
}

/** Fills `out` with uniform values in [-limit, limit). */
export function fillUniform(rng: Rng, out: Float32Array, limit: number): Float32Array {
  const scale = (2 * limit) / TWO_POW_32;
  for (let i = 0; i < out.length; i++) out[i] = rng.nextUint32() * scale - limit;
  return out;
}

/** Fills `out` with approximately normal values of the given standard deviation. */
export function fillNormal(rng: Rng, out: Float32Array, std: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
  return out;
}

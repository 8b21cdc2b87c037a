import { describe, expect, it } from 'vitest';
import { continueTrace, formatTraceparent, parseTraceparent, pooledRandom } from './traceparent.ts';

const SPEC_EXAMPLE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceparent', () => {
  it("reads the spec's example", () => {
    expect(parseTraceparent(SPEC_EXAMPLE)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    expect(parseTraceparent(` ${SPEC_EXAMPLE} `)?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('refuses what a receiver must ignore', () => {
    for (const bad of [
      undefined,
      null,
      '',
      SPEC_EXAMPLE.toUpperCase(),
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      `${SPEC_EXAMPLE}-extra`, // version 00 has exactly four fields
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1',
      '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n{"injected":1}',
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });

  it('reads a later version by its version-00 prefix', () => {
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next')?.spanId).toBe('00f067aa0ba902b7');
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x')).toBeUndefined();
  });
});

describe('continueTrace', () => {
  it("keeps the parent's trace and flags with a new span", () => {
    const parent = parseTraceparent(SPEC_EXAMPLE)!;
    const child = continueTrace(parent);
    expect(child.traceId).toBe(parent.traceId);
    expect(child.flags).toBe(1);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(parent.spanId);
  });

  it('starts a sampled trace without a parent, and round-trips through the header', () => {
    const root = continueTrace();
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(parseTraceparent(formatTraceparent(root))).toEqual(root);
    expect(continueTrace().traceId).not.toBe(root.traceId);
  });

  it('never makes the invalid all-zero id', () => {
    const zeros = continueTrace(undefined, (b) => b.fill(0));
    expect(parseTraceparent(formatTraceparent(zeros))).toBeDefined();
  });
});

describe('pooledRandom', () => {
  it('hands out each byte of a block once, draws a new block when one runs out, and one as large as an oversized array', () => {
    const random = pooledRandom(32);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const bytes = new Uint8Array(8);
      random(bytes);
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
    const big = new Uint8Array(64);
    random(big);
    expect(big.some((b) => b !== 0)).toBe(true);
  });
});

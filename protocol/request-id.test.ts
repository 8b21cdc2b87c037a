import { describe, expect, it } from 'vitest';
import { requestIdFrom } from './request-id.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it("keeps a caller's sane id and replaces anything else with a fresh UUID", () => {
    for (const sane of ['abc', 'req-1.2:3_x', 'a'.repeat(128)]) expect(requestIdFrom(sane)).toBe(sane);
    for (const odd of [undefined, null, '', 'a'.repeat(129), 'two words', 'line\nbreak', '{"json":1}', 'ü']) {
      expect(requestIdFrom(odd), String(odd)).toMatch(UUID);
    }
    expect(requestIdFrom(undefined)).not.toBe(requestIdFrom(undefined));
  });
});

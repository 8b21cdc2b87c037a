import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { parseTraceparent } from '../../protocol/traceparent.ts';
import type { OriginEnv } from '../context.ts';
import { collectingLogger } from '../test-support.ts';
import { requestId } from './request-id.ts';
import { requestLog } from './request-log.ts';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function app() {
  const { logger, lines } = collectingLogger();
  const a = new Hono<OriginEnv>();
  a.use('*', requestId());
  a.use('*', requestLog({ logger }));
  a.post('/v2/models/m/infer', (c) => c.text('ok'));
  return { a, lines };
}

describe('request log trace', () => {
  it("continues the caller's trace with a span of its own", async () => {
    const { a, lines } = app();
    await a.request('/v2/models/m/infer', { method: 'POST', headers: { traceparent: PARENT, 'x-request-id': 'r-1' } });
    expect(lines).toHaveLength(1);
    const line = lines[0] as Record<string, unknown>;
    expect(line).toMatchObject({ request_id: 'r-1', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', parent_span_id: '00f067aa0ba902b7' });
    expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(line.span_id).not.toBe('00f067aa0ba902b7');
  });

  it('starts a trace when the header is absent or invalid, never logging what was sent', async () => {
    const { a, lines } = app();
    await a.request('/v2/models/m/infer', { method: 'POST' });
    await a.request('/v2/models/m/infer', { method: 'POST', headers: { traceparent: '00-zz-evil' } });
    expect(lines).toHaveLength(2);
    for (const line of lines as Record<string, unknown>[]) {
      expect(parseTraceparent(`00-${line.trace_id}-${line.span_id}-01`)).toBeDefined();
      expect(line.parent_span_id).toBeUndefined();
      expect(JSON.stringify(line)).not.toContain('evil');
    }
  });
});

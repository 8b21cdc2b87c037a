import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');
const rules = (
  parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: { rules: { alert: string; expr: string; for: string }[] }[] }
).groups.flatMap((g) => g.rules);
const metricsSource = readFileSync(join(ROOT, 'origin', 'metrics.ts'), 'utf8');
const exported = new Set([...metricsSource.matchAll(/name: '(tandem_origin_[a-z_]+)'/g)].map((m) => m[1]));
// prom-client's process metrics, which the origin exports under their stock names (origin/metrics.ts).
const stockRegistry = new Registry();
collectDefaultMetrics({ register: stockRegistry });
const stock = new Set(stockRegistry.getMetricsAsArray().map((m) => m.name));

describe('Prometheus alerts', () => {
  it('alert on error rate, p95 latency, queue depth, readiness and drift', () => {
    expect(rules.map((r) => r.alert)).toEqual([
      'TandemOriginErrorRate',
      'TandemOriginLatencyP95',
      'TandemOriginQueueDepth',
      'TandemOriginModelNotReady',
      'TandemInputDrift',
      'TandemLowConfidence',
      'TandemOriginEventLoopLag',
    ]);
    expect(rules[0]!.expr).toMatch(/> 0\.05\s*$/);
    for (const rule of rules) expect(rule.for, rule.alert).toMatch(/^\d+m$/);
  });

  it('name only metrics the origin exports: its own, and the process metrics under their stock names', () => {
    expect(exported.size).toBeGreaterThan(5);
    expect(stock).toContain('nodejs_eventloop_lag_p99_seconds');
    for (const rule of rules) {
      const own = [...rule.expr.matchAll(/\b(tandem_origin_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
      const processMetrics = [...rule.expr.matchAll(/\b((?:process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
      expect(own.length + processMetrics.length, rule.alert).toBeGreaterThan(0);
      for (const name of own) expect(exported, `${rule.alert}: ${name}`).toContain(name);
      for (const name of processMetrics) expect(stock, `${rule.alert}: ${name}`).toContain(name);
    }
    // A prefixed process metric (the names before Prometheus's conventions) matches no series.
    expect(rules.filter((r) => /tandem_origin_(process|nodejs)_/.test(r.expr))).toEqual([]);
  });

  it('the queue alert fires before the origin sheds load', () => {
    const threshold = Number(/> (\d+)\s*$/.exec(rules.find((r) => r.alert === 'TandemOriginQueueDepth')!.expr)![1]);
    const configMap = readFileSync(join(ROOT, 'deploy', 'k8s', 'configmap.yaml'), 'utf8');
    const maxQueueRows = Number(/TANDEM_MAX_QUEUE_ROWS: "(\d+)"/.exec(configMap)![1]);
    expect(threshold).toBeLessThan(maxQueueRows);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');
const rules = (parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: { rules: { alert: string; expr: string; for: string }[] }[] }).groups.flatMap((g) => g.rules);
const metricsSource = readFileSync(join(ROOT, 'origin', 'metrics.ts'), 'utf8');
const exported = new Set([...metricsSource.matchAll(/name: '(tandem_origin_[a-z_]+)'/g)].map((m) => m[1]));

describe('Prometheus alerts', () => {
  it('alert on error rate, p95 latency, queue depth, readiness and drift', () => {
    expect(rules.map((r) => r.alert)).toEqual(['TandemOriginErrorRate', 'TandemOriginLatencyP95', 'TandemOriginQueueDepth', 'TandemOriginModelNotReady', 'TandemInputDrift', 'TandemLowConfidence']);
    expect(rules[0]!.expr).toMatch(/> 0\.05\s*$/);
    for (const rule of rules) expect(rule.for, rule.alert).toMatch(/^\d+m$/);
  });

  it('name only metrics the origin exports', () => {
    expect(exported.size).toBeGreaterThan(5);
    for (const rule of rules) {
      const names = [...rule.expr.matchAll(/\b(tandem_origin_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${rule.alert}: ${name}`).toContain(name);
    }
  });

  it('the queue alert fires before the origin sheds load', () => {
    const threshold = Number(/> (\d+)\s*$/.exec(rules.find((r) => r.alert === 'TandemOriginQueueDepth')!.expr)![1]);
    const configMap = readFileSync(join(ROOT, 'deploy', 'k8s', 'configmap.yaml'), 'utf8');
    const maxQueueRows = Number(/TANDEM_MAX_QUEUE_ROWS: "(\d+)"/.exec(configMap)![1]);
    expect(threshold).toBeLessThan(maxQueueRows);
  });
});

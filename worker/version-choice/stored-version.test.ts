import { describe, expect, it } from 'vitest';
import { parseCanary } from './canary.ts';
import { chooseStoredVersion, storedVersionCandidates } from './stored-version.ts';

describe('version choice', () => {
  it('serves the requested version, else the canary choice, else the newest', () => {
    const canary = parseCanary({ m: { '1.1.0': 100 } });
    const stored = ['1.0.0', '1.1.0', '2.0.0'];
    expect(chooseStoredVersion(stored, { model: 'm', requested: '1.0.0', canary, clientId: 'c' })).toEqual({ version: '1.0.0', perClient: false });
    expect(chooseStoredVersion(stored, { model: 'm', canary, clientId: 'c' })).toEqual({ version: '1.1.0', perClient: true });
    expect(chooseStoredVersion(stored, { model: 'x', canary, clientId: 'c' })).toEqual({ version: '2.0.0', perClient: false });
    expect(chooseStoredVersion(stored, { model: 'm', requested: '9.9.9', canary, clientId: 'c' })).toBeUndefined();
  });

  it('falls back to the newest when the canary version is not stored', () => {
    const canary = parseCanary({ m: { '3.0.0': 100 } });
    expect(chooseStoredVersion(['1.0.0'], { model: 'm', canary, clientId: 'c' })?.version).toBe('1.0.0');
  });

  it('lists what to try when the preferred version cannot be served: newest first, the canary version before the rest', () => {
    const versions = (list: ReturnType<typeof storedVersionCandidates>) => list.map((c) => c.version);
    const none = parseCanary({});
    expect(versions(storedVersionCandidates(['1.0.0', '2.0.0', '1.10.0'], { model: 'm', canary: none, clientId: 'c' }))).toEqual(['2.0.0', '1.10.0', '1.0.0']);
    const canary = parseCanary({ m: { '1.0.0': 100 } });
    const ordered = storedVersionCandidates(['1.0.0', '2.0.0', '1.1.0'], { model: 'm', canary, clientId: 'c' });
    expect(versions(ordered)).toEqual(['1.0.0', '2.0.0', '1.1.0']);
    expect(ordered.every((c) => c.perClient)).toBe(true);
    expect(versions(storedVersionCandidates(['1.0.0', '2.0.0'], { model: 'm', requested: '1.0.0', canary, clientId: 'c' }))).toEqual(['1.0.0']);
  });
});

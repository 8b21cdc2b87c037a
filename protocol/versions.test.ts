import { describe, expect, it } from 'vitest';
import { compareVersions, newestVersion } from './versions.ts';

describe('model version order', () => {
  it('orders semantic versions numerically, a pre-release before its release', () => {
    expect(['1.0.0', '0.9.9', '1.0.0-beta', '1.0.10', '1.0.2', '1.0.0-alpha'].sort(compareVersions)).toEqual([
      '0.9.9',
      '1.0.0-alpha',
      '1.0.0-beta',
      '1.0.0',
      '1.0.2',
      '1.0.10',
    ]);
    expect(compareVersions('2.0.0', '2.0.0')).toBe(0);
  });

  it('compares pre-release fields numerically (semver §11): rc.2 before rc.10', () => {
    expect(['1.0.0', '1.0.0-rc.10', '1.0.0-rc.2', '1.0.0-rc.1'].sort(compareVersions)).toEqual(['1.0.0-rc.1', '1.0.0-rc.2', '1.0.0-rc.10', '1.0.0']);
    expect(['1.0.0-alpha.beta', '1.0.0-alpha.1', '1.0.0-alpha', '1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-beta', '1.0.0-rc.1'].sort(compareVersions)).toEqual([
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
    ]);
    expect(newestVersion(['2.0.0-rc.9', '2.0.0-rc.10'])).toBe('2.0.0-rc.10');
  });

  it('puts what is not a version first instead of throwing', () => {
    expect(['1.0.0', 'latest', '0.1.0', 'draft'].sort(compareVersions)).toEqual(['draft', 'latest', '0.1.0', '1.0.0']);
  });

  it('finds the newest', () => {
    expect(newestVersion(['1.9.0', '1.10.0', '1.2.0'])).toBe('1.10.0');
    expect(newestVersion([])).toBeUndefined();
  });
});

describe('the same order as the semver package', () => {
  it('agrees with semver compare/valid on every pair of a varied set', async () => {
    const { default: compare } = await import('semver/functions/compare.js');
    const { default: valid } = await import('semver/functions/valid.js');
    const versions = [
      '0.0.0',
      '0.0.1',
      '0.1.0',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '1.9.0',
      '1.10.0',
      '2.0.0',
      '10.0.0',
      '9007199254740991.0.0',
      '9007199254740992.0.0',
      '1.0.0-0',
      '1.0.0-1',
      '1.0.0-10',
      '1.0.0-2',
      '1.0.0-a',
      '1.0.0-A',
      '1.0.0-a.1',
      '1.0.0-a.b',
      '1.0.0-a.1.1',
      '1.0.0--',
      '1.0.0-1a',
      '1.0.0-a-1',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0-rc.10',
      '1.0.0+build',
      '1.0.0-rc.1+b.2',
      'v1.0.0',
      ' 1.0.1 ',
      '01.0.0',
      '1.0.00',
      '1.0.0-01',
      '1.0',
      '1',
      'latest',
      '',
      'v',
      '1.0.0-',
      '1.0.0+',
      '1.0.0-a..b',
    ];
    const reference = (a: string, b: string) => {
      const [va, vb] = [valid(a) !== null, valid(b) !== null];
      if (va && vb) return compare(a, b);
      if (va !== vb) return va ? 1 : -1;
      return a < b ? -1 : a > b ? 1 : 0;
    };
    for (const a of versions) for (const b of versions) expect(compareVersions(a, b), `${a} vs ${b}`).toBe(reference(a, b));
  });
});

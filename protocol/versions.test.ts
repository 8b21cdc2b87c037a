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

  it('finds the newest', () => {
    expect(newestVersion(['1.9.0', '1.10.0', '1.2.0'])).toBe('1.10.0');
    expect(newestVersion([])).toBeUndefined();
  });
});

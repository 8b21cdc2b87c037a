import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../protocol/errors.ts';

describe('README error table', () => {
  it('documents every error code with its HTTP status', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(readme).toContain(`| \`${code}\` | ${status} |`);
    }
  });
});

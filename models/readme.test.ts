import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../protocol/errors.ts';

describe('README error table', () => {
  it('documents every error code with its HTTP status and whether it is retryable', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const [code, { status, retryable }] of Object.entries(ERRORS)) {
      expect(readme).toContain(`| \`${code}\` | ${status} | ${retryable ? 'yes' : 'no'} |`);
    }
  });
});

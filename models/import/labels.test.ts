import { describe, expect, it } from 'vitest';
import { checkLabelCount, parseLabels } from './labels.ts';

describe('parseLabels', () => {
  it('reads one label per line (CRLF, BOM and a trailing newline tolerated) or a JSON array', () => {
    expect(parseLabels('\uFEFFcat\r\ndog\r\nbird\r\n\r\n', 'l.txt')).toEqual(['cat', 'dog', 'bird']);
    expect(parseLabels(' ["a b", "", "c"] ', 'l.json')).toEqual(['a b', '', 'c']);
  });

  it('refuses empty files, blank lines between labels and arrays of non-strings', () => {
    expect(() => parseLabels('\n\n', 'l.txt')).toThrow(expect.objectContaining({ code: 'bad_request', message: expect.stringContaining('empty') }));
    expect(() => parseLabels('a\n\nb\n', 'l.txt')).toThrow(/line 2 is blank/);
    expect(() => parseLabels('[1, 2]', 'l.json')).toThrow(/array of strings/);
    expect(() => parseLabels('[', 'l.json')).toThrow(/not a JSON array/);
    expect(() => parseLabels('[]', 'l.json')).toThrow(/empty/);
  });
});

describe('checkLabelCount', () => {
  const outputs = [
    { name: 'logits', dtype: 'float32' as const, shape: ['batch', 10] },
    { name: 'embedding', dtype: 'float32' as const, shape: ['batch', 64] },
  ];

  it("takes labels matching some output's fixed last dimension, or any count when none is fixed", () => {
    expect(() => checkLabelCount(Array(10).fill('x'), outputs)).not.toThrow();
    expect(() => checkLabelCount(Array(3).fill('x'), [{ name: 'y', dtype: 'float32', shape: ['batch', 'classes'] }])).not.toThrow();
  });

  it('refuses a count no output has', () => {
    expect(() => checkLabelCount(Array(9).fill('x'), outputs)).toThrow(
      expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(/9 labels, but no output's last dimension is 9.*"logits" \[batch, 10\]/) }),
    );
  });
});

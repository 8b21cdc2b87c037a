import { describe, expect, it } from 'vitest';
import { redactPaths } from './redact-paths.ts';

describe('redactPaths', () => {
  it('shows repository files relative to the repository', () => {
    expect(redactPaths('/srv/repo/mlp/1.0.0/fp32.onnx: no such file', '/srv/repo')).toBe('mlp/1.0.0/fp32.onnx: no such file');
    expect(redactPaths('no model a@1.0.0 in /srv/repo', '/srv/repo/')).toBe('no model a@1.0.0 in <repository>');
  });

  it('hides every other absolute path, quoted or not', () => {
    expect(redactPaths("ENOENT: no such file or directory, open '/etc/tandem/keys.json'")).toBe("ENOENT: no such file or directory, open '<path>'");
    expect(redactPaths('/home/op/x.json is not valid JSON')).toBe('<path> is not valid JSON');
    expect(redactPaths('read (/tmp/a/b) failed', '/srv/repo')).toBe('read (<path>) failed');
  });

  it('leaves text without paths alone', () => {
    const text = 'input "x" has shape [2,3], expected [-1,256]: 3/4 rows, input/output names';
    expect(redactPaths(text, '/srv/repo')).toBe(text);
  });
});

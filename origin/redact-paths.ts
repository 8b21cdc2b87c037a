/**
 * Keeps file-system paths out of what the origin says to callers. Errors from loading a model name the
 * files they are about (useful in the log), but an absolute path tells a caller where the server keeps its
 * repository, who runs it, and how the machine is laid out. Paths inside the model repository are shown
 * relative to it (`mlp-classifier/1.1.0/fp32.onnx`); any other absolute path becomes `<path>`.
 */

/** What an absolute POSIX path looks like inside a message: a "/" at a word start, up to a delimiter. */
const ABSOLUTE_PATH = /(^|[\s'"`(=,:])\/[^\s'"`),;]*/g;

/**
 * @example
 * redactPaths('/srv/repo/mlp/1.0.0/fp32.onnx: no such file', '/srv/repo'); // 'mlp/1.0.0/fp32.onnx: no such file'
 */
export function redactPaths(text: string, repository?: string): string {
  let out = text;
  if (repository) {
    const root = repository.replace(/\/+$/, '');
    if (root !== '') out = out.split(`${root}/`).join('').split(root).join('<repository>');
  }
  return out.replace(ABSOLUTE_PATH, '$1<path>');
}

/**
 * Generated bad requests for the fuzzer (fast-check arbitraries): malformed JSON, deep nesting, huge
 * parameters, wrong dtypes and shapes, binary framing that lies, bad headers, odd paths and methods, and
 * raw HTTP that no client library would send. Every case is aimed at one tier (`origin` direct, or the
 * `edge`), with that tier's credentials where a case means to get past authentication. A seed makes a
 * run reproducible.
 */
import fc from 'fast-check';

export type Tier = 'origin' | 'edge';

export interface FuzzCase {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Raw HTTP/1.1 bytes to write on a socket instead (origin only). */
  raw?: string;
}

export interface FuzzTargetCredentials {
  tier: Tier;
  /** `Authorization` value that gets through. */
  authorization: string;
}

export const MODEL = 'mlp-classifier';
const INPUT = 'x';
const WIDTH = 256;

/** A valid request body for the fuzzed model, rows of `WIDTH` floats. */
export function validBody(rows = 1, seed = 1): { inputs: { name: string; shape: number[]; datatype: string; data: number[] }[] } {
  const data: number[] = [];
  let s = seed;
  for (let i = 0; i < rows * WIDTH; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    data.push(Math.round(((s / 2 ** 31) * 2 - 1) * 1e4) / 1e4);
  }
  return { inputs: [{ name: INPUT, shape: [rows, WIDTH], datatype: 'FP32', data }] };
}

const VALID_TEXT = JSON.stringify(validBody());
const inferPath = (version?: string) => `/v2/models/${MODEL}${version === undefined ? '' : `/versions/${version}`}/infer`;

const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_./:;,=@%*"\'()[]{}<>?!~^`|\\'.split('')), maxLength: 40 });
const weirdText = fc.oneof(
  printable,
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', '\u0000', '\n', '\r\n', '..', '../..', '%00', '%0a', '%ZZ', '\u202e', '\ud800', 'NaN', 'null', '__proto__', 'constructor'),
);

// --- bodies -------------------------------------------------------------------------------------------

const malformedJson = fc.oneof(
  fc.integer({ min: 0, max: VALID_TEXT.length - 1 }).map((n) => VALID_TEXT.slice(0, n)),
  fc.string({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'undefined'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ inputs: v })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ inputs: [{ name: INPUT, shape: [1, WIDTH], datatype: 'FP32', data: v }] })),
  fc.constantFrom(
    VALID_TEXT.replace('"data":[', '"data":[NaN,'),
    VALID_TEXT.replace('"data":[', '"data":[Infinity,'),
    VALID_TEXT.replace('"data":[', '"data":[1e999,'),
    VALID_TEXT.replace('"data":[', '"data":[0x10,'),
    VALID_TEXT.replace(']}]}', ',]}]}'),
    `\ufeff${VALID_TEXT}`,
    `${VALID_TEXT}${VALID_TEXT}`,
    VALID_TEXT.replace('{"inputs"', '{"inputs":[],"inputs"'),
    VALID_TEXT.replace('{"inputs"', '{"__proto__":{"polluted":true},"inputs"'),
    VALID_TEXT.replace('"name":"x"', '"name":"x","constructor":{"prototype":{"x":1}}'),
    '{"inputs":null}',
    '{"inputs":{}}',
    '[]',
    'null',
    '""',
  ),
);

const deepNesting = fc
  .record({ depth: fc.integer({ min: 50, max: 200_000 }), where: fc.constantFrom('top-array', 'top-object', 'data', 'parameters', 'shape', 'unclosed') })
  .map(({ depth, where }) => {
    const arrays = '['.repeat(depth) + ']'.repeat(depth);
    const objects = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    switch (where) {
      case 'top-array':
        return arrays;
      case 'top-object':
        return objects;
      case 'data':
        return JSON.stringify(validBody()).replace(/"data":\[[^\]]*\]/, `"data":${arrays}`);
      case 'parameters':
        return `{"parameters":${objects},"inputs":${JSON.stringify(validBody().inputs)}}`;
      case 'shape':
        return JSON.stringify(validBody()).replace(/"shape":\[[^\]]*\]/, `"shape":${arrays}`);
      default:
        return '['.repeat(depth);
    }
  });

const hugeParameters = fc.oneof(
  fc
    .constantFrom(2 ** 31, 2 ** 32, 2 ** 53, 1e300, -1, 0, 1.5, -(2 ** 31))
    .chain((big) =>
      fc.constantFrom(
        JSON.stringify({ inputs: [{ name: INPUT, shape: [big, WIDTH], datatype: 'FP32', data: [0] }] }),
        JSON.stringify({ inputs: [{ name: INPUT, shape: [1, big], datatype: 'FP32', data: [0] }] }),
        JSON.stringify({ inputs: [{ name: INPUT, shape: [big, big, big], datatype: 'FP32', data: [] }] }),
        JSON.stringify({ ...validBody(), parameters: { binary_data_output: true, timeout: big } }),
      ),
    ),
  fc.integer({ min: 1_000, max: 300_000 }).map((n) => `{"inputs":[{"name":"x","shape":[1,${WIDTH}],"datatype":"FP32","data":[${'0,'.repeat(n)}0]}]}`),
  fc.integer({ min: 2, max: 600 }).map((rows) => JSON.stringify(validBody(rows))),
  fc.integer({ min: 1_000, max: 70_000 }).map((n) => JSON.stringify({ inputs: [{ ...validBody().inputs[0], name: 'x'.repeat(n) }] })),
  fc
    .integer({ min: 100, max: 20_000 })
    .map((n) => JSON.stringify({ inputs: Array.from({ length: n }, (_, i) => ({ name: `in${i}`, shape: [1], datatype: 'FP32', data: [0] })) })),
  fc
    .integer({ min: 100, max: 20_000 })
    .map((n) => JSON.stringify({ ...validBody(), parameters: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i])) })),
  fc.integer({ min: 100, max: 20_000 }).map((n) => JSON.stringify({ ...validBody(), outputs: Array.from({ length: n }, (_, i) => ({ name: `out${i}` })) })),
  fc.integer({ min: 10_000, max: 1_000_000 }).map((n) => JSON.stringify({ ...validBody(), id: 'i'.repeat(n) })),
);

const dtypes = fc.constantFrom(
  'FP64',
  'FP16',
  'BF16',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT8',
  'UINT64',
  'BOOL',
  'BYTES',
  'fp32',
  'FP32 ',
  'float32',
  '',
  'COMPLEX64',
);
const wrongTensors = fc.oneof(
  dtypes.map((datatype) => JSON.stringify({ inputs: [{ ...validBody().inputs[0], datatype }] })),
  fc.array(fc.integer({ min: -3, max: 600 }), { maxLength: 5 }).map((shape) => JSON.stringify({ inputs: [{ ...validBody().inputs[0], shape }] })),
  fc
    .constantFrom<unknown[]>(['a'], [null], [[1, 2]], [true], [{}], [1e39], [-1e39])
    .map((bad) => JSON.stringify({ inputs: [{ ...validBody().inputs[0], data: [...bad, ...validBody().inputs[0]!.data.slice(bad.length)] }] })),
  fc
    .integer({ min: 0, max: 600 })
    .filter((n) => n !== WIDTH)
    .map((n) => JSON.stringify({ inputs: [{ ...validBody().inputs[0], data: new Array(n).fill(0.5) }] })),
  weirdText.map((name) => JSON.stringify({ inputs: [{ ...validBody().inputs[0], name }] })),
  weirdText.map((name) => JSON.stringify({ ...validBody(), outputs: [{ name }] })),
  fc.constant(JSON.stringify({ inputs: [validBody().inputs[0], validBody().inputs[0]] })),
  fc.constant(JSON.stringify({ inputs: [] })),
  fc.constant(JSON.stringify({ ...validBody(), outputs: [{ name: 'probabilities', parameters: { binary_data: 'yes' } }] })),
);

/** A binary-tensor body whose header, sizes and framing may disagree. */
const binaryLies = fc
  .record({
    declared: fc.oneof(fc.constant(WIDTH * 4), fc.integer({ min: -5, max: 5_000 }), fc.constantFrom(2 ** 32, 2 ** 53, 1.5)),
    sent: fc.oneof(fc.constant(WIDTH * 4), fc.integer({ min: 0, max: 5_000 })),
    headerLength: fc.oneof(
      fc.constant('exact'),
      fc.constant('missing'),
      fc.integer({ min: -10, max: 100_000 }).map(String),
      fc.constantFrom('abc', '1e3', ' 12', '0x20', '', '9007199254740993', '-0'),
    ),
    dtype: fc.constantFrom('FP32', 'FP32', 'INT64', 'BYTES', 'BOOL'),
    extra: fc.uint8Array({ maxLength: 64 }),
  })
  .map(({ declared, sent, headerLength, dtype, extra }) => {
    const header = JSON.stringify({ inputs: [{ name: INPUT, shape: [1, WIDTH], datatype: dtype, parameters: { binary_data_size: declared } }] });
    const headerBytes = new TextEncoder().encode(header);
    const body = new Uint8Array(headerBytes.length + sent + extra.length);
    body.set(headerBytes, 0);
    body.set(extra, headerBytes.length + sent);
    const length = headerLength === 'exact' ? String(headerBytes.length) : headerLength;
    return { body, headers: { 'content-type': 'application/octet-stream', ...(length === 'missing' ? {} : { 'inference-header-content-length': length }) } };
  });

// --- whole cases --------------------------------------------------------------------------------------

function jsonCase(kind: string, auth: string): (body: string) => FuzzCase {
  return (body) => ({ kind, method: 'POST', path: inferPath(), headers: { 'content-type': 'application/json', authorization: auth }, body });
}

const headerValue = fc.oneof(printable, fc.constantFrom('', ' ', 'x'.repeat(9000), '\t', 'ä', 'Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'bearer  x  y'));

function badHeaders(credentials: FuzzTargetCredentials): fc.Arbitrary<FuzzCase> {
  const names = [
    'authorization',
    'content-type',
    'x-request-id',
    'x-request-timeout-ms',
    'inference-header-content-length',
    'x-client-id',
    'accept',
    'x-api-key',
    'range',
    'if-none-match',
    'content-encoding',
  ];
  return fc
    .record({
      name: fc.constantFrom(...names),
      value: fc.oneof(
        headerValue,
        fc.constantFrom(
          '0',
          '-1',
          '1e20',
          'NaN',
          '99999999999999999999',
          'gzip',
          'text/plain',
          'application/json; charset=utf-16',
          'multipart/form-data; boundary=x',
        ),
      ),
      address: fc.ipV4(),
    })
    .map(({ name, value, address }) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: credentials.authorization };
      headers[name] = value;
      // A wrong key from many addresses, as a guesser would, so the edge's per-address throttle is exercised
      // without blocking the fuzzer's own well-keyed requests.
      if (credentials.tier === 'edge') headers['cf-connecting-ip'] = address;
      return { kind: 'bad-headers', method: 'POST', path: inferPath(), headers, body: VALID_TEXT };
    });
}

function oddPaths(credentials: FuzzTargetCredentials): fc.Arbitrary<FuzzCase> {
  const segment = weirdText.map(encodeSegment);
  const rawSegment = fc.constantFrom('%00', '%0A', '%0d%0a', '%2F', '%2e%2e', '%ZZ', '%', '%E0%A4%A', '..', '.', '', 'x'.repeat(3000), '%F0%9F%92%A9');
  const anySegment = fc.oneof(segment, rawSegment, fc.constantFrom(MODEL, 'versions', 'infer', 'models', 'v2', 'v1', '1.0.0', '2.0.0', '9.9.9'));
  const paths = fc.oneof(
    anySegment.map((v) => `/v2/models/${MODEL}/versions/${v}/infer`),
    anySegment.map((m) => `/v2/models/${m}/infer`),
    anySegment.map((m) => `/v2/models/${m}`),
    anySegment.map((v) => `/v2/models/${MODEL}/versions/${v}`),
    fc.array(anySegment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
    fc.constantFrom(
      '/',
      '//',
      '/v2',
      '/v2/',
      '/v2//models',
      '/v2/health/ready',
      '/v2/health/live',
      '/metrics',
      '/v2/repository/index',
      '/v2/models/mlp-classifier/ready',
      '/v2/models/mlp-classifier/versions/1.0.0/ready',
    ),
    ...(credentials.tier === 'edge'
      ? [
          anySegment.map((v) => `/v1/models/${MODEL}/manifest?version=${v}`),
          anySegment.map((m) => `/v1/models/${m}/manifest`),
          anySegment.map((h) => `/v1/artifacts/${h}`),
          fc.constantFrom(
            '/v1',
            '/v1/models',
            '/v1/edge/status',
            '/v1/edge/origins',
            `/v1/artifacts/${'0'.repeat(64)}`,
            `/v1/models/${MODEL}/manifest?version=1.0.0&version=x`,
          ),
        ]
      : []),
  );
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO', 'PROPFIND', 'purge');
  return fc
    .record({ path: paths, method, query: fc.option(fc.constantFrom('?a=1', '?version=%00', `?${'q'.repeat(4000)}=1`, '?%ZZ', '#frag')) })
    .map(({ path, method, query }) => ({
      kind: 'odd-paths-methods',
      method,
      path: query && !path.includes('?') ? path + query : path,
      headers: { authorization: credentials.authorization, 'content-type': 'application/json' },
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: VALID_TEXT }),
    }));
}

/** Percent-encodes a path segment; a lone surrogate (which has no UTF-8) goes as its WTF-8 bytes. */
function encodeSegment(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

/** Raw HTTP/1.1 that the server's parser must refuse with the documented body (origin tier). */
const RAW_REQUESTS = [
  'GET / HTTP/1.1\r\n\r\n',
  'POST /v2/models/mlp-classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  'POST /v2/models/mlp-classifier/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
  'POST /v2/models/mlp-classifier/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n',
  'GARBAGE\r\n\r\n',
  'GET /\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
  `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
  'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\n folded: y\r\n\r\n',
  'POST /v2/models/mlp-classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  'POST /v2/models/mlp-classifier/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n',
];

function rawCases(auth: string): fc.Arbitrary<FuzzCase> {
  return fc.constantFrom(...RAW_REQUESTS).map((raw) => ({
    kind: 'raw-http',
    method: 'RAW',
    path: '',
    headers: {},
    raw: raw.replace('Host: x\r\n', `Host: x\r\nAuthorization: ${auth}\r\nConnection: close\r\n`),
  }));
}

/** Every kind of bad request for one tier, in proportion. */
export function fuzzCases(credentials: FuzzTargetCredentials): fc.Arbitrary<FuzzCase> {
  const auth = credentials.authorization;
  return fc.oneof(
    { arbitrary: malformedJson.map(jsonCase('malformed-json', auth)), weight: 4 },
    { arbitrary: deepNesting.map(jsonCase('deep-nesting', auth)), weight: 1 },
    { arbitrary: hugeParameters.map(jsonCase('huge-parameters', auth)), weight: 2 },
    { arbitrary: wrongTensors.map(jsonCase('wrong-dtype-shape', auth)), weight: 4 },
    {
      arbitrary: binaryLies.map(({ body, headers }) => ({
        kind: 'binary-lies',
        method: 'POST',
        path: inferPath(),
        headers: { ...headers, authorization: auth },
        body,
      })),
      weight: 3,
    },
    { arbitrary: badHeaders(credentials), weight: 3 },
    { arbitrary: oddPaths(credentials), weight: 4 },
    ...(credentials.tier === 'origin' ? [{ arbitrary: rawCases(auth), weight: 1 }] : []),
  );
}

/** `count` cases for one tier, reproducibly from `seed`. */
export function generateCases(credentials: FuzzTargetCredentials, count: number, seed: number): FuzzCase[] {
  return fc.sample(fuzzCases(credentials), { numRuns: count, seed });
}

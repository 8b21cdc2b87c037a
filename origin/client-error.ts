/**
 * Requests that never reach the app still get the documented error body. Node's HTTP parser refuses some
 * before there is a request at all (malformed request lines or headers, headers over the size limit, a
 * request that does not arrive in time) and by default writes a bare `400` or `431` with no body, and
 * answers an `Expect` it cannot meet (anything but `100-continue`) with a bare `417`;
 * @hono/node-server answers a bare `400` to requests it cannot turn into a web `Request` (no or a bad
 * Host header, a backslash in the path). Here both get the origin's error body (OIP's,
 * `{ error: "<message>", code, request_id }`, as middleware/errors.ts writes it), `x-tandem-error-code`, a
 * request id, and `Connection: close` (the connection's framing can no longer be trusted).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { ERROR_CODE_HEADER, TandemError } from '../protocol/errors.ts';
import { requestIdFrom } from '../protocol/request-id.ts';

/** The error for a request Node's parser refused (`clientError`), by its error code. */
export function clientErrorFor(err: { code?: string; message?: string }): TandemError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new TandemError('bad_request', 'the request headers are over the size limit');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return new TandemError('bad_request', 'the request did not arrive in time');
    case 'HPE_INVALID_METHOD':
      return new TandemError('bad_request', 'malformed HTTP request: unknown method');
    default:
      return new TandemError(
        'bad_request',
        `malformed HTTP request${err.code?.startsWith('HPE_') ? ` (${err.code.slice(4).toLowerCase().replaceAll('_', ' ')})` : ''}`,
      );
  }
}

/**
 * Answers a request whose `Expect` is not `100-continue` (Node's `checkExpectation`): 417 with the
 * documented body, keeping the caller's request id. The header's value is not echoed.
 */
export function answerUnmetExpectation(request: IncomingMessage, response: ServerResponse): void {
  const error = new TandemError('expectation_failed', 'the only Expect this server meets is 100-continue', {
    requestId: requestIdFrom(request.headers['x-request-id'] as string | undefined),
  });
  writeErrorResponse(response, error);
}

/** A complete HTTP/1.1 response carrying `error`, for writing straight to a socket. */
export function rawErrorResponse(error: TandemError, requestId = requestIdFrom(undefined)): string {
  error.requestId = requestId;
  const body = JSON.stringify(error.toBody('oip'));
  return [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    `${ERROR_CODE_HEADER}: ${error.code}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * HTTP/1.1 requires a Host header. Node checks it before any listener runs and answers a bare 400, so the
 * server turns that check off (`requireHostHeader: false`) and asks this instead.
 */
export function lacksRequiredHost(request: IncomingMessage): boolean {
  return request.headers.host === undefined && (request.httpVersionMajor > 1 || request.httpVersionMinor >= 1);
}

/** Answers on a Node response with `error`'s documented body, and closes the connection. */
export function writeErrorResponse(response: ServerResponse, error: TandemError): void {
  error.requestId ??= requestIdFrom(undefined);
  const body = JSON.stringify(error.toBody('oip'));
  response.writeHead(error.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': error.requestId,
    [ERROR_CODE_HEADER]: error.code,
    connection: 'close',
  });
  response.end(body);
}

/**
 * The response to a request @hono/node-server could not turn into a web `Request` (its `RequestError`:
 * messages such as "Missing host header", never the caller's bytes), or, should the app itself ever
 * throw past its own error handler, an `internal` error without details.
 */
export function requestErrorResponse(err: unknown): Response {
  const malformed = err instanceof Error && err.name === 'RequestError';
  const error = malformed ? new TandemError('bad_request', `malformed HTTP request: ${err.message}`) : new TandemError('internal', 'internal error');
  error.requestId = requestIdFrom(undefined);
  return new Response(JSON.stringify(error.toBody('oip')), {
    status: error.status,
    headers: { 'content-type': 'application/json', 'x-request-id': error.requestId, [ERROR_CODE_HEADER]: error.code, connection: 'close' },
  });
}

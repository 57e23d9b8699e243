// owt.js: a tiny client for owt, for browsers and Node >= 20. No dependencies.
//
//   import { call, owtify, stream } from './owt.js';
//
//   const code = "def run(name): return f'Hello, {name}!'";
//   await call('http://127.0.0.1:9876/hello', code, { name: 'owt' });  // 'Hello, owt!'
//   const src = owtify('http://127.0.0.1:9876/pic.png', code, { name: 'owt' }); // a GET URL
//   await stream(url, sseCode, { text: 'Hi' }, (event) => console.log(event.data));
//
// Text is base64-encoded from its UTF-8 bytes, so any Unicode survives the
// trip (btoa on a JavaScript string would throw on anything past Latin-1).

/**
 * Basic-auth credentials: `"user:password"` or an object.
 * @typedef {string | {username: string, password: string}} Auth
 */

/**
 * Protocol fields besides code and arguments.
 * @typedef {object} CallOptions
 * @property {string} [fnName] the adaptor function to call (the server's default is `run`)
 * @property {boolean} [useCache] let the server cache the answer
 * @property {boolean} [cacheKwargs] make the arguments part of the cache key
 * @property {string} [cacheKeyOverride] a cache key replacing the computed one
 * @property {boolean} [pin] also answer later code-less requests to this path from the cache
 * @property {number} [timeout] seconds the adaptor may run (the server caps it)
 */

/**
 * Options for {@link call}.
 * @typedef {CallOptions & {
 *   method?: 'GET' | 'POST',
 *   auth?: Auth,
 *   signal?: AbortSignal,
 *   headers?: Record<string, string>,
 * }} RequestOptions
 */

/**
 * Options for {@link stream}. `events` names extra SSE event types to
 * deliver when the browser's EventSource is used (it cannot listen to all).
 * @typedef {RequestOptions & { events?: string[] }} StreamOptions
 */

/**
 * One server-sent event.
 * @typedef {object} OwtEvent
 * @property {string} data the event's data (lines joined with "\n")
 * @property {string} event its type, `message` unless the server named one
 * @property {string | null} id the last event id seen, if any
 */

/**
 * Arguments: an object (sent as JSON), a string (sent as it is: JSON, or a
 * Python expression the server evaluates), or null/undefined for none.
 * @typedef {Record<string, unknown> | unknown[] | string | number | boolean | null | undefined} Kwargs
 */

const encoder = new TextEncoder();

/**
 * The longest request target (path and query string, as sent on the request
 * line) owt's HTTP front accepts; a longer one gets a bare 414. POST has no
 * such limit.
 */
export const MAX_REQUEST_TARGET = 65_534;

/**
 * Return `url` if its request target fits {@link MAX_REQUEST_TARGET}; throw otherwise.
 * The target is measured as it goes on the wire: percent-encoded path, `?` and query.
 * @param {string} url an absolute URL, or a path (with query) on this page's origin
 * @returns {string}
 */
export function checkUrlLength(url) {
  const parsed = new URL(url, 'http://localhost');
  const size = parsed.pathname.length + parsed.search.length; // ASCII once encoded
  if (size > MAX_REQUEST_TARGET) {
    const n = (/** @type {number} */ x) => x.toLocaleString('en-US');
    throw new Error(
      `This URL's path and query string are ${n(size)} bytes, over the ` +
        `${n(MAX_REQUEST_TARGET)} bytes owt's HTTP front accepts on a request ` +
        'line; send the call by POST (JSON body) instead.',
    );
  }
  return url;
}

/**
 * @param {number} status
 * @returns {string}
 */
function where(status) {
  if (status >= 400) return `HTTP ${status}`;
  // An error event ends a stream whose status was already 200.
  return status > 0 ? 'in the stream' : 'no answer';
}

/** The error the server answered with (or ended a stream with). */
export class OwtError extends Error {
  /**
   * @param {number} status HTTP status (200 for an error ending a stream, 0 when unknown)
   * @param {string} kind the server's error word, e.g. `adaptor_error`
   * @param {string} message the server's sentence about it
   * @param {{traceback?: string | null, requestId?: string | null, body?: Record<string, unknown>}} [details]
   */
  constructor(status, kind, message, details = {}) {
    super(`${kind} (${where(status)}): ${message}`);
    this.name = 'OwtError';
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.kind = kind;
    /** @type {string} the server's message, without the kind and status */
    this.serverMessage = message;
    /** @type {string | null} the adaptor's traceback, when it raised */
    this.traceback = details.traceback ?? null;
    /** @type {string | null} */
    this.requestId = details.requestId ?? null;
    /** @type {Record<string, unknown>} the whole error body */
    this.body = details.body ?? {};
  }
}

/**
 * Standard base64 of bytes.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function bytesToBase64(bytes) {
  let binary = '';
  const step = 0x8000; // keep String.fromCharCode's argument list small
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

/**
 * Base64 of a string's UTF-8 bytes: safe for every Unicode character.
 * @param {string} text
 * @returns {string}
 */
export function b64encodeText(text) {
  return bytesToBase64(encoder.encode(text));
}

/**
 * The protocol fields for a request.
 * @param {string} code adaptor source text
 * @param {Kwargs} [kwargs]
 * @param {CallOptions} [options]
 * @returns {Record<string, string | number | boolean>}
 */
export function encodeRequest(code, kwargs, options = {}) {
  if (typeof code !== 'string') {
    throw new TypeError('code must be the adaptor source as a string');
  }
  /** @type {Record<string, string | number | boolean>} */
  const fields = { code_b64: b64encodeText(code) };
  if (kwargs !== undefined && kwargs !== null) {
    const text = typeof kwargs === 'string' ? kwargs : JSON.stringify(kwargs);
    fields.kwargs_b64 = b64encodeText(text);
  }
  if (options.fnName) fields.fn_name = options.fnName;
  if (options.useCache) fields.use_cache = true;
  if (options.cacheKwargs) fields.cache_kwargs = true;
  if (options.cacheKeyOverride != null) fields.cache_key_override = options.cacheKeyOverride;
  if (options.pin) fields.pin = true;
  if (options.timeout != null) fields.timeout = options.timeout;
  return fields;
}

/**
 * A GET URL that runs `code` with `kwargs`: for `fetch`, `<img src>`,
 * `<audio src>`, `EventSource` or a link. Throws an Error for a URL too long
 * for the server (see {@link MAX_REQUEST_TARGET}): send such calls by POST.
 * @param {string} url the server, and the path the adaptor sees
 * @param {string} code adaptor source text
 * @param {Kwargs} [kwargs]
 * @param {CallOptions} [options]
 * @returns {string}
 */
export function owtify(url, code, kwargs, options = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(encodeRequest(code, kwargs, options))) {
    query.append(name, String(value));
  }
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : url.slice(hash);
  const joiner = !base.includes('?') ? '?' : /[?&]$/.test(base) ? '' : '&';
  return checkUrlLength(base + joiner + query.toString() + fragment);
}

/**
 * The Authorization header value for basic auth.
 * @param {Auth} auth
 * @returns {string}
 */
export function basicAuthHeader(auth) {
  const pair = typeof auth === 'string' ? auth : `${auth.username}:${auth.password}`;
  if (!pair.includes(':')) throw new TypeError("auth must look like 'username:password'");
  return 'Basic ' + b64encodeText(pair);
}

/**
 * Send a request; throw {@link OwtError} for an error answer.
 * @param {string} url
 * @param {string} code
 * @param {Kwargs} kwargs
 * @param {RequestOptions} options
 * @param {'GET' | 'POST'} defaultMethod
 * @returns {Promise<Response>}
 */
async function send(url, code, kwargs, options, defaultMethod) {
  refuseUrlWithCode(url);
  const method = (options.method ?? defaultMethod).toUpperCase();
  /** @type {Record<string, string>} */
  const headers = { ...(options.headers ?? {}) };
  if (options.auth) headers.Authorization = basicAuthHeader(options.auth);
  /** @type {RequestInit} */
  const init = { method, headers, signal: options.signal };
  let target = url;
  if (method === 'GET') {
    target = owtify(url, code, kwargs, options);
  } else {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(encodeRequest(code, kwargs, options));
  }
  const response = await fetch(target, init);
  if (!response.ok) throw await errorFromResponse(response);
  return response;
}

/**
 * `call` and `stream` send the code themselves: a URL that already carries
 * code (one `owtify` made) would send it twice, which owt refuses.
 * @param {string} url
 */
function refuseUrlWithCode(url) {
  const query = new URL(url, 'http://localhost').searchParams;
  for (const field of ['code_b64', 'code', 'kwargs_b64', 'kwargs']) {
    if (query.has(field)) {
      throw new Error(
        `This URL already carries ${field} (an owtify URL?); call and stream send ` +
          'the code and kwargs themselves: pass the server URL and path instead.',
      );
    }
  }
}

/**
 * Read owt's JSON error body (or whatever else came back) into an {@link OwtError}.
 * @param {Response} response
 * @returns {Promise<OwtError>}
 */
export async function errorFromResponse(response) {
  const requestId = response.headers.get('X-Request-Id');
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (body && typeof body === 'object' && 'error' in body) {
    return errorFromBody(response.status, body, requestId);
  }
  const message = text.trim().slice(0, 500) || response.statusText || 'no message';
  return new OwtError(response.status, 'http_error', message, { requestId });
}

/**
 * @param {number} status
 * @param {Record<string, any>} body
 * @param {string | null} [requestId]
 * @returns {OwtError}
 */
function errorFromBody(status, body, requestId = null) {
  return new OwtError(status, String(body.error || 'error'), String(body.message ?? ''), {
    traceback: typeof body.traceback === 'string' ? body.traceback : null,
    requestId: body.request_id ?? requestId,
    body,
  });
}

/**
 * The media type (lower case) and charset of a response.
 * @param {Response} response
 * @returns {[string, string | null]}
 */
function mediaType(response) {
  const [type, ...params] = (response.headers.get('Content-Type') ?? '').split(';');
  let charset = null;
  for (const param of params) {
    const [key, value] = param.trim().split('=');
    if (key && key.toLowerCase() === 'charset' && value) charset = value.replace(/"/g, '');
  }
  return [type.trim().toLowerCase(), charset];
}

/**
 * The body as JSON data, text or bytes, chosen by Content-Type.
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
export async function decodeBody(response) {
  const [type, charset] = mediaType(response);
  const textual =
    type.startsWith('text/') ||
    type.endsWith('+xml') ||
    ['application/javascript', 'application/xml'].includes(type);
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = await decodeText(response, charset);
    return text === '' ? null : JSON.parse(text);
  }
  if (textual) return decodeText(response, charset);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * @param {Response} response
 * @param {string | null} charset
 * @returns {Promise<string>}
 */
async function decodeText(response, charset) {
  if (!charset || charset.toLowerCase() === 'utf-8') return response.text();
  return new TextDecoder(charset).decode(await response.arrayBuffer());
}

/**
 * Run `code` with `kwargs` and return the answer: parsed JSON for JSON,
 * a string for text, a Uint8Array for anything else.
 * @param {string} url the server, and the path the adaptor sees
 * @param {string} code adaptor source text
 * @param {Kwargs} [kwargs]
 * @param {RequestOptions} [options] `method` defaults to POST (a JSON body)
 * @returns {Promise<any>}
 * @throws {OwtError} when the server answers with an error
 */
export async function call(url, code, kwargs, options = {}) {
  return decodeBody(await send(url, code, kwargs, options, 'POST'));
}

/** An incremental `text/event-stream` parser: feed it text, get events. */
export class SSEParser {
  constructor() {
    this.pending = '';
    /** @type {string[]} */
    this.data = [];
    this.type = '';
    /** @type {string | null} */
    this.lastId = null;
  }

  /**
   * Parse more text; returns the events it completes.
   * @param {string} text
   * @returns {OwtEvent[]}
   */
  feed(text) {
    this.pending += text;
    /** @type {OwtEvent[]} */
    const events = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(this.pending)) !== null) {
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (match[0] === '\r' && lineEnd.lastIndex === this.pending.length) break;
      const event = this.line(this.pending.slice(start, match.index));
      if (event) events.push(event);
      start = lineEnd.lastIndex;
    }
    this.pending = this.pending.slice(start);
    return events;
  }

  /**
   * @param {string} line
   * @returns {OwtEvent | null}
   */
  line(line) {
    if (line === '') {
      const data = this.data;
      const type = this.type;
      this.data = [];
      this.type = '';
      if (data.length === 0) return null;
      return { data: data.join('\n'), event: type || 'message', id: this.lastId };
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.data.push(value);
    else if (name === 'event') this.type = value;
    else if (name === 'id' && !value.includes('\0')) this.lastId = value;
    return null;
  }
}

/**
 * The error carried by owt's closing `event: error`, or null for other events.
 * @param {OwtEvent} event
 * @param {number} [status]
 * @returns {OwtError | null}
 */
export function errorFromEvent(event, status = 200) {
  if (event.event !== 'error') return null;
  let body = null;
  try {
    body = JSON.parse(event.data);
  } catch {
    body = null;
  }
  if (!body || typeof body !== 'object') body = { error: 'stream_error', message: event.data };
  return errorFromBody(status, body);
}

/**
 * Read an answer as it arrives, with fetch (works in Node and browsers):
 * yields events for `text/event-stream`, Uint8Array chunks otherwise.
 * @param {string} url
 * @param {string} code
 * @param {Kwargs} [kwargs]
 * @param {RequestOptions} [options] `method` defaults to POST
 * @returns {AsyncGenerator<OwtEvent | Uint8Array, void, undefined>}
 * @throws {OwtError} for an error answer or owt's `event: error`
 */
export async function* events(url, code, kwargs, options = {}) {
  const response = await send(url, code, kwargs, options, 'POST');
  if (!response.body) return;
  const reader = response.body.getReader();
  const sse = mediaType(response)[0] === 'text/event-stream';
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!sse) {
        yield value;
        continue;
      }
      for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
        const error = errorFromEvent(event, response.status);
        if (error) throw error;
        yield event;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Run `code` and hand each piece of the answer to `onEvent` as it arrives.
 *
 * In a browser, a plain call (no `auth`, `headers` or `method: 'POST'`)
 * uses `EventSource` on the {@link owtify} URL and delivers `message`
 * events (plus any types named in `options.events`); it closes the
 * source when the server ends the stream, so the adaptor is not run
 * again by EventSource's reconnect. Everywhere else (Node, or with those
 * options) it uses fetch and an incremental parser: SSE answers give
 * events, other answers give Uint8Array chunks.
 *
 * @param {string} url
 * @param {string} code
 * @param {Kwargs} kwargs
 * @param {(item: OwtEvent | Uint8Array) => unknown} onEvent may return a promise (awaited with fetch)
 * @param {StreamOptions} [options]
 * @returns {Promise<void>} settles when the stream ends
 * @throws {OwtError} for an error answer or owt's `event: error`
 */
export async function stream(url, code, kwargs, onEvent, options = {}) {
  if (useEventSource(options)) {
    return viaEventSource(owtify(url, code, kwargs, options), onEvent, options);
  }
  for await (const item of events(url, code, kwargs, options)) {
    await onEvent(item);
  }
}

/**
 * @param {StreamOptions} options
 * @returns {boolean}
 */
function useEventSource(options) {
  const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);
  return (
    !isNode &&
    typeof EventSource === 'function' &&
    !options.auth &&
    !options.headers &&
    (options.method ?? 'GET').toUpperCase() === 'GET'
  );
}

/**
 * @param {string} target
 * @param {(item: OwtEvent) => unknown} onEvent
 * @param {StreamOptions} options
 * @returns {Promise<void>}
 */
function viaEventSource(target, onEvent, options) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(target);
    let opened = false;
    const finish = (/** @type {unknown} */ error) => {
      source.close();
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => finish(options.signal?.reason ?? new Error('aborted'));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort);
    const deliver = (/** @type {MessageEvent} */ message) => {
      try {
        onEvent({ data: message.data, event: message.type, id: message.lastEventId || null });
      } catch (error) {
        finish(error);
      }
    };
    source.onopen = () => {
      opened = true;
    };
    source.onmessage = deliver;
    for (const name of options.events ?? []) source.addEventListener(name, deliver);
    source.addEventListener('error', (event) => {
      const data = /** @type {MessageEvent} */ (event).data;
      if (typeof data === 'string') {
        finish(errorFromEvent({ data, event: 'error', id: null }));
      } else if (opened) {
        finish(null); // the server closed the stream: done, don't reconnect
      } else {
        finish(new OwtError(0, 'connection_failed', `EventSource could not open ${target}`));
      }
    });
  });
}

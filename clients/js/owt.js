// owt.js: a tiny client for owt, for browsers and Node >= 20. No dependencies.
//
//   import { call, owtify, stream } from './owt.js';
//
//   const code = "def run(name): return f'Hello, {name}!'";
//   await call('http://127.0.0.1:9876/hello', code, { name: 'owt' });  // 'Hello, owt!'
//   const src = owtify('http://127.0.0.1:9876/pic.png', code, { name: 'owt' }); // a GET URL
//   await stream(url, sseCode, { text: 'Hi' }, (event) => console.log(event.data));
//   await call(url, thumbCode, { image: file });  // a File or Blob: multipart POST
//   await register(url, 'thumb', thumbCode);       // kept by the server...
//   await call(url, { adaptor: 'thumb' }, { image: file }); // ...and called by name
//
// call, events and stream send the code's SHA-256 first and the code only
// when the server answers that it doesn't hold it (sendHash: false sends the
// code every time); owtify URLs carry the code, so they work by themselves.
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
 * What a call runs: adaptor source text, or `{adaptor: NAME}` for an adaptor
 * registered on the server (see {@link register}).
 * @typedef {string | {adaptor: string}} Code
 */

/**
 * How to reach the server: credentials, extra headers, an abort signal.
 * @typedef {object} HttpOptions
 * @property {Auth} [auth] basic-auth credentials
 * @property {AbortSignal} [signal] aborts the request
 * @property {Record<string, string>} [headers] extra request headers
 */

/**
 * Options for {@link call}. `sendHash` (default true) sends the code's
 * SHA-256 first and the code only when the server asks for it.
 * @typedef {CallOptions & HttpOptions & {
 *   method?: 'GET' | 'POST',
 *   sendHash?: boolean,
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
 * Python expression the server evaluates), or null/undefined for none. In an
 * object, a `Blob` or `File` (or an array of them) is sent as a file part of
 * a multipart POST, and the rest as JSON.
 * @typedef {Record<string, unknown> | unknown[] | string | number | boolean | null | undefined} Kwargs
 */

/**
 * A registered adaptor, as the server describes it.
 * @typedef {object} AdaptorInfo
 * @property {string} name
 * @property {string} digest SHA-256 of its source, hex
 * @property {number} size bytes of source
 * @property {string} registered when (ISO 8601, UTC)
 * @property {string | null} signature `run`'s parameters, e.g. `run(image, size=128)`
 */

const encoder = new TextEncoder();

/** The error kind owt answers a `code_sha256` it doesn't hold with. */
export const UNKNOWN_CODE = 'unknown_code';

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
 * The hex SHA-256 of the code's UTF-8 bytes (the `code_sha256` field), or
 * null where Web Crypto is missing (a page on plain http from a non-local
 * address is not a secure context): the code is then sent as it is.
 * @param {string} code adaptor source text
 * @returns {Promise<string | null>}
 */
export async function codeSha256(code) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = new Uint8Array(await subtle.digest('SHA-256', encoder.encode(code)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * @param {unknown} value
 * @returns {value is Blob}
 */
function isBlob(value) {
  return typeof Blob === 'function' && value instanceof Blob;
}

/**
 * @param {unknown} value
 * @returns {value is Blob | Blob[]}
 */
function isFileValue(value) {
  return isBlob(value) || (Array.isArray(value) && value.length > 0 && value.every(isBlob));
}

/**
 * Kwargs split into what goes as JSON and the files (`[name, Blob]` pairs).
 * @param {Kwargs} kwargs
 * @returns {{plain: Kwargs, files: [string, Blob][]}}
 */
function splitFiles(kwargs) {
  if (!kwargs || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
    return { plain: kwargs, files: [] };
  }
  /** @type {Record<string, unknown>} */
  const plain = {};
  /** @type {[string, Blob][]} */
  const files = [];
  for (const [name, value] of Object.entries(kwargs)) {
    if (isBlob(value)) files.push([name, value]);
    else if (isFileValue(value)) for (const blob of value) files.push([name, blob]);
    else plain[name] = value;
  }
  if (!files.length) return { plain: kwargs, files };
  return { plain: Object.keys(plain).length ? plain : undefined, files };
}

/**
 * @param {string} name
 * @returns {string}
 */
function onlyPost(name) {
  return (
    `${JSON.stringify(name)} is a file (Blob), which only a POST ` +
    "(multipart/form-data) can carry; it can't go in a GET URL."
  );
}

/**
 * The protocol fields for a request.
 * @param {Code} code adaptor source text, or `{adaptor: NAME}`
 * @param {Kwargs} [kwargs] may not hold files (see {@link call})
 * @param {CallOptions} [options]
 * @returns {Record<string, string | number | boolean>}
 */
export function encodeRequest(code, kwargs, options = {}) {
  /** @type {Record<string, string | number | boolean>} */
  let fields;
  if (typeof code === 'string') {
    fields = { code_b64: b64encodeText(code) };
  } else if (code && typeof code === 'object' && typeof code.adaptor === 'string' && code.adaptor) {
    fields = { adaptor: code.adaptor };
  } else {
    throw new TypeError('code must be the adaptor source as a string, or {adaptor: name}');
  }
  if (kwargs && typeof kwargs === 'object' && !Array.isArray(kwargs)) {
    for (const [name, value] of Object.entries(kwargs)) {
      if (isFileValue(value)) throw new TypeError(onlyPost(name));
    }
  }
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
 * `<audio src>`, `EventSource` or a link. It carries the code itself (or a
 * registered adaptor's name), so it works by itself. Throws an Error for a
 * URL too long for the server (see {@link MAX_REQUEST_TARGET}): send such
 * calls by POST.
 * @param {string} url the server, and the path the adaptor sees
 * @param {Code} code adaptor source text, or `{adaptor: NAME}`
 * @param {Kwargs} [kwargs]
 * @param {CallOptions} [options]
 * @returns {string}
 */
export function owtify(url, code, kwargs, options = {}) {
  return urlWithFields(url, encodeRequest(code, kwargs, options));
}

/**
 * `url` with `fields` added to its query string (checked for length).
 * @param {string} url
 * @param {Record<string, string | number | boolean>} fields
 * @returns {string}
 */
function urlWithFields(url, fields) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) query.append(name, String(value));
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
 * Digests of code each server (by origin) took from this page or process:
 * a request with files sends the code along unless its server holds it, so
 * a file need not cross the wire twice.
 * @type {Map<string, Set<string>>}
 */
const held = new Map();

/**
 * @param {string} url
 * @returns {string}
 */
function originOf(url) {
  try {
    return new URL(url, globalThis.location?.href).origin;
  } catch {
    return url;
  }
}

/**
 * @param {string} url
 * @param {string} digest
 */
function remember(url, digest) {
  const origin = originOf(url);
  const digests = held.get(origin) ?? new Set();
  if (digests.size >= 1024) digests.clear();
  digests.add(digest);
  held.set(origin, digests);
}

/**
 * @param {HttpOptions} options
 * @returns {Record<string, string>}
 */
function requestHeaders(options) {
  /** @type {Record<string, string>} */
  const headers = { ...(options.headers ?? {}) };
  if (options.auth) headers.Authorization = basicAuthHeader(options.auth);
  return headers;
}

/**
 * Send a request; throw {@link OwtError} for an error answer. With a hash,
 * the code goes only when the server answers `unknown_code` (always once
 * more: another process behind a load balancer may not hold it).
 * @param {string} url
 * @param {Code} code
 * @param {Kwargs} kwargs
 * @param {RequestOptions} options
 * @param {'GET' | 'POST'} defaultMethod
 * @returns {Promise<Response>}
 */
async function send(url, code, kwargs, options, defaultMethod) {
  refuseUrlWithCode(url);
  const method = (options.method ?? defaultMethod).toUpperCase();
  const { plain, files } = splitFiles(kwargs);
  if (files.length && method !== 'POST') throw new TypeError(onlyPost(files[0][0]));
  const withCode = encodeRequest(code, plain, options);
  // The URL with the code must fit: it is what a second try would send.
  if (method === 'GET') urlWithFields(url, withCode);
  const attempts = [withCode];
  const digest =
    typeof code === 'string' && options.sendHash !== false ? await codeSha256(code) : null;
  if (digest && !(files.length && !held.get(originOf(url))?.has(digest))) {
    const { code_b64: _, ...rest } = withCode;
    attempts.unshift({ code_sha256: digest, ...rest });
  }
  /** @type {Response | undefined} */
  let response;
  for (const [i, fields] of attempts.entries()) {
    response = await fetch(...buildRequest(url, method, fields, files, options));
    if (response.ok || i === attempts.length - 1) break;
    const text = await response.text();
    if (!asksForCode(response, text)) throw errorFromText(response, text);
  }
  response = /** @type {Response} */ (response);
  if (!response.ok) throw await errorFromResponse(response);
  if (digest) remember(url, digest);
  return response;
}

/**
 * The arguments of `fetch` for one try.
 * @param {string} url
 * @param {string} method
 * @param {Record<string, string | number | boolean>} fields
 * @param {[string, Blob][]} files
 * @param {RequestOptions} options
 * @returns {[string, RequestInit]}
 */
function buildRequest(url, method, fields, files, options) {
  const headers = requestHeaders(options);
  /** @type {RequestInit} */
  const init = { method, headers, signal: options.signal };
  if (method === 'GET') return [urlWithFields(url, fields), init];
  if (files.length) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
    for (const [name, blob] of files) {
      const filename = /** @type {{name?: unknown}} */ (blob).name;
      form.append(name, blob, typeof filename === 'string' && filename ? filename : name);
    }
    init.body = form; // fetch sets the multipart Content-Type and boundary
  } else {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(fields);
  }
  return [url, init];
}

/**
 * Whether an error answer says the server doesn't hold the code sent by hash.
 * @param {Response} response
 * @param {string} text its body
 * @returns {boolean}
 */
function asksForCode(response, text) {
  if (response.status !== 404) return false;
  try {
    return JSON.parse(text)?.error === UNKNOWN_CODE;
  } catch {
    return false;
  }
}

/**
 * `call` and `stream` send the code themselves: a URL that already carries
 * code (one `owtify` made) would send it twice, which owt refuses.
 * @param {string} url
 */
function refuseUrlWithCode(url) {
  const query = new URL(url, 'http://localhost').searchParams;
  for (const field of ['code_b64', 'code', 'code_sha256', 'adaptor', 'kwargs_b64', 'kwargs']) {
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
  return errorFromText(response, await response.text());
}

/**
 * The same, from a body already read.
 * @param {Response} response
 * @param {string} text
 * @returns {OwtError}
 */
function errorFromText(response, text) {
  const requestId = response.headers.get('X-Request-Id');
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
 * a string for text, a Uint8Array for anything else. A `Blob` or `File` in
 * `kwargs` makes the request a multipart POST.
 * @param {string} url the server, and the path the adaptor sees
 * @param {Code} code adaptor source text, or `{adaptor: NAME}`
 * @param {Kwargs} [kwargs]
 * @param {RequestOptions} [options] `method` defaults to POST (a JSON body)
 * @returns {Promise<any>}
 * @throws {OwtError} when the server answers with an error
 */
export async function call(url, code, kwargs, options = {}) {
  return decodeBody(await send(url, code, kwargs, options, 'POST'));
}

/**
 * The URL of the registry (`/_owt/adaptors`), or of one adaptor in it, on
 * the server of `url`.
 * @param {string} url any URL of the server
 * @param {string} [name]
 * @returns {string}
 */
export function registryUrl(url, name) {
  let path = '/_owt/adaptors';
  if (name !== undefined) {
    if (typeof name !== 'string' || !name) {
      throw new TypeError("an adaptor's name must be a non-empty string");
    }
    path += `/${encodeURIComponent(name)}`;
  }
  return new URL(path, new URL(url, globalThis.location?.href)).href;
}

/**
 * @param {string} method
 * @param {string} target
 * @param {HttpOptions} options
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function registryRequest(method, target, options, init = {}) {
  const extra = /** @type {Record<string, string>} */ (init.headers ?? {});
  const headers = { ...requestHeaders(options), ...extra };
  const response = await fetch(target, { ...init, method, headers, signal: options.signal });
  if (!response.ok) throw await errorFromResponse(response);
  return response;
}

/**
 * Keep `code` on the server as the adaptor `name` (replacing one of that
 * name), to call as `{adaptor: name}`; it survives a restart.
 * @param {string} url any URL of the server
 * @param {string} name letters, digits, `_`, `.` and `-`
 * @param {string} code adaptor source text
 * @param {HttpOptions} [options]
 * @returns {Promise<AdaptorInfo>}
 * @throws {OwtError} e.g. `bad_adaptor_name`, `syntax_error`
 */
export async function register(url, name, code, options = {}) {
  if (typeof code !== 'string') throw new TypeError('code must be the adaptor source as a string');
  const response = await registryRequest('PUT', registryUrl(url, name), options, {
    headers: { 'Content-Type': 'text/x-python; charset=utf-8' },
    body: code,
  });
  const digest = await codeSha256(code);
  if (digest) remember(url, digest);
  return response.json();
}

/**
 * The adaptors registered on the server.
 * @param {string} url any URL of the server
 * @param {HttpOptions} [options]
 * @returns {Promise<AdaptorInfo[]>}
 */
export async function adaptors(url, options = {}) {
  const response = await registryRequest('GET', registryUrl(url), options);
  return (await response.json()).adaptors ?? [];
}

/**
 * Remove the adaptor registered as `name`.
 * @param {string} url any URL of the server
 * @param {string} name
 * @param {HttpOptions} [options]
 * @returns {Promise<void>}
 * @throws {OwtError} `unknown_adaptor` (404) when there is none
 */
export async function unregister(url, name, options = {}) {
  await (await registryRequest('DELETE', registryUrl(url, name), options)).body?.cancel();
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
 * @param {Code} code adaptor source text, or `{adaptor: NAME}`
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
 * In a browser, a plain call (no `auth`, `headers`, `method: 'POST'` or
 * files) uses `EventSource` on the {@link owtify} URL, which carries the
 * code, and delivers `message` events (plus any types named in
 * `options.events`); it closes the source when the server ends the
 * stream, so the adaptor is not run again by EventSource's reconnect.
 * Everywhere else (Node, or with those options) it uses fetch, sending the
 * code's hash first, and an incremental parser: SSE answers give events,
 * other answers give Uint8Array chunks.
 *
 * @param {string} url
 * @param {Code} code adaptor source text, or `{adaptor: NAME}`
 * @param {Kwargs} kwargs
 * @param {(item: OwtEvent | Uint8Array) => unknown} onEvent may return a promise (awaited with fetch)
 * @param {StreamOptions} [options]
 * @returns {Promise<void>} settles when the stream ends
 * @throws {OwtError} for an error answer or owt's `event: error`
 */
export async function stream(url, code, kwargs, onEvent, options = {}) {
  if (useEventSource(options) && splitFiles(kwargs).files.length === 0) {
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

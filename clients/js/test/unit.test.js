// Tests of owt.js that need no server: encoding, URLs, the SSE parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  b64encodeText,
  basicAuthHeader,
  bytesToBase64,
  checkUrlLength,
  encodeRequest,
  errorFromEvent,
  MAX_REQUEST_TARGET,
  OwtError,
  owtify,
  SSEParser,
} from '../owt.js';

const fromB64 = (/** @type {string} */ text) => Buffer.from(text, 'base64').toString('utf8');

test('b64encodeText is the base64 of the UTF-8 bytes, for any Unicode', () => {
  for (const text of ['', 'owt', 'こんにちは 🌍', 'é\u0000\uFFFF', '𝄞'.repeat(1000)]) {
    assert.equal(b64encodeText(text), Buffer.from(text, 'utf8').toString('base64'));
  }
});

test('plain btoa breaks on non-Latin-1 text, which is why owt.js does not use it on strings', () => {
  assert.throws(() => btoa(JSON.stringify({ t: 'こんにちは 🌍' })));
  assert.doesNotThrow(() => b64encodeText(JSON.stringify({ t: 'こんにちは 🌍' })));
});

test('bytesToBase64 handles large arrays (beyond one fromCharCode call)', () => {
  const bytes = new Uint8Array(200_001).map((_, i) => (i * 7) % 256);
  assert.equal(bytesToBase64(bytes), Buffer.from(bytes).toString('base64'));
});

test('encodeRequest sends objects as JSON and strings as they are', () => {
  const fields = encodeRequest('def run(**kw): return kw', { name: 'owt', n: 3 });
  assert.equal(fromB64(String(fields.code_b64)), 'def run(**kw): return kw');
  assert.deepEqual(JSON.parse(fromB64(String(fields.kwargs_b64))), { name: 'owt', n: 3 });
  const python = encodeRequest('x', "{'n': 2 ** 10}");
  assert.equal(fromB64(String(python.kwargs_b64)), "{'n': 2 ** 10}");
  assert.equal('kwargs_b64' in encodeRequest('x', null), false);
  assert.equal('kwargs_b64' in encodeRequest('x'), false);
});

test('encodeRequest maps the options to protocol fields, leaving defaults out', () => {
  assert.deepEqual(Object.keys(encodeRequest('x', {})), ['code_b64', 'kwargs_b64']);
  const fields = encodeRequest('x', undefined, {
    fnName: 'main',
    useCache: true,
    cacheKwargs: true,
    cacheKeyOverride: 'k',
    pin: true,
    timeout: 2.5,
  });
  assert.deepEqual(
    { ...fields, code_b64: undefined },
    {
      code_b64: undefined,
      fn_name: 'main',
      use_cache: true,
      cache_kwargs: true,
      cache_key_override: 'k',
      pin: true,
      timeout: 2.5,
    },
  );
  assert.throws(() => encodeRequest(/** @type {any} */ (42)), TypeError);
});

test('owtify builds a GET URL whose fields decode back to the code and kwargs', () => {
  const code = "def run(prompt): return prompt + ' ✓'";
  const url = new URL(owtify('http://127.0.0.1:9876/api/x', code, { prompt: 'こんにちは 🌍' }));
  assert.equal(url.pathname, '/api/x');
  assert.equal(fromB64(url.searchParams.get('code_b64') ?? ''), code);
  assert.deepEqual(JSON.parse(fromB64(url.searchParams.get('kwargs_b64') ?? '')), {
    prompt: 'こんにちは 🌍',
  });
});

test('owtify keeps an existing query and fragment', () => {
  const url = owtify('http://h:1/p?a=1#top', 'x', undefined, { useCache: true });
  assert.match(url, /^http:\/\/h:1\/p\?a=1&code_b64=eA%3D%3D&use_cache=true#top$/);
  assert.match(owtify('http://h:1/p?', 'x'), /^http:\/\/h:1\/p\?code_b64=/);
});

/** The message for a request target of `size` bytes. */
const tooLong = (/** @type {number} */ size) =>
  `This URL's path and query string are ${size.toLocaleString('en-US')} bytes, over the ` +
  "65,534 bytes owt's HTTP front accepts on a request line; send the call by POST (JSON body) instead.";

test('owtify refuses a URL one byte over the 65,534 bytes of request target the server accepts', () => {
  assert.equal(MAX_REQUEST_TARGET, 65_534);
  const code = 'x'.repeat(40_000);
  const short = new URL(owtify('http://h:1/p', code));
  const pad = 'a'.repeat(MAX_REQUEST_TARGET - short.pathname.length - short.search.length);
  const fits = new URL(owtify(`http://h:1/p${pad}#frag`, code));
  assert.equal(fits.pathname.length + fits.search.length, MAX_REQUEST_TARGET);
  assert.throws(() => owtify(`http://h:1/p${pad}a`, code), { message: tooLong(65_535) });
  assert.throws(() => owtify(`/p${pad}a`, code), { message: tooLong(65_535) });
});

test('checkUrlLength measures the path percent-encoded, as it is sent', () => {
  const path = '/' + 'a'.repeat(MAX_REQUEST_TARGET - 1);
  assert.equal(checkUrlLength(`https://h${path}#${'f'.repeat(100)}`), `https://h${path}#${'f'.repeat(100)}`);
  assert.equal(checkUrlLength(path), path);
  assert.throws(() => checkUrlLength(`${path.slice(0, -1)}é`), { message: tooLong(65_539) });
});

test('basicAuthHeader encodes user:password as UTF-8', () => {
  assert.equal(basicAuthHeader('me:secret'), 'Basic ' + btoa('me:secret'));
  assert.equal(
    basicAuthHeader({ username: 'me', password: 'pässwörd' }),
    'Basic ' + Buffer.from('me:pässwörd').toString('base64'),
  );
  assert.throws(() => basicAuthHeader('no-colon'), TypeError);
});

test('SSEParser handles every line ending, even split across chunks', () => {
  const parser = new SSEParser();
  assert.deepEqual(parser.feed('data: a\r'), []);
  const events = [
    ...parser.feed('\n\r\ndata: b\rdata:c\r\r'),
    ...parser.feed('data: d\n'),
    ...parser.feed('\n'),
  ];
  assert.deepEqual(
    events.map((e) => e.data),
    ['a', 'b\nc', 'd'],
  );
});

test('SSEParser reads event, id and comments, and drops events with no data', () => {
  const parser = new SSEParser();
  const events = parser.feed(': keep-alive\n\nevent: tick\nid: 7\ndata: {"n": 1}\n\nevent: lonely\n\n');
  assert.deepEqual(events, [{ data: '{"n": 1}', event: 'tick', id: '7' }]);
  assert.deepEqual(parser.feed('data: unfinished'), []);
});

test("errorFromEvent reads owt's closing error event", () => {
  const error = errorFromEvent({
    data: '{"error": "adaptor_error", "message": "boom"}',
    event: 'error',
    id: null,
  });
  assert.ok(error instanceof OwtError);
  assert.equal(error.kind, 'adaptor_error');
  assert.equal(error.serverMessage, 'boom');
  assert.equal(error.status, 200);
  assert.equal(errorFromEvent({ data: 'x', event: 'message', id: null }), null);
  assert.equal(errorFromEvent({ data: 'plain', event: 'error', id: null })?.serverMessage, 'plain');
});

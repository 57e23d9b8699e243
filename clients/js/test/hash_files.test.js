// owt.js against a real owt server: hash first, registered adaptors, files in.
//
// tests/test_js_client.py runs this with OWT_TEST_ADAPTORS_URL (a server
// started with --adaptors-dir in a temporary directory) and OWT_TEST_AUTH_URL
// + OWT_TEST_AUTH ("user:password", a server started with --auth). Without
// them (`npm test`), it starts what it needs itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  adaptors,
  call,
  codeSha256,
  encodeRequest,
  events,
  OwtError,
  owtify,
  register,
  registryUrl,
  stream,
  unregister,
} from '../owt.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** @type {import('node:child_process').ChildProcess[]} */
const started = [];
let URL_ = process.env.OWT_TEST_ADAPTORS_URL ?? '';
let AUTH_URL = process.env.OWT_TEST_AUTH_URL ?? '';
let AUTH = process.env.OWT_TEST_AUTH ?? '';

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * @param {string[]} extra
 * @returns {Promise<string>}
 */
async function startOwt(extra) {
  const python =
    process.env.OWT_PYTHON ??
    (existsSync(`${REPO}.venv/bin/python`) ? `${REPO}.venv/bin/python` : 'python3');
  const port = await freePort();
  const args = ['-m', 'owt', 'serve', '--address', '127.0.0.1', '--port', String(port)];
  const child = spawn(python, [...args, ...extra], { cwd: REPO, detached: true, stdio: 'ignore' });
  started.push(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      await fetch(`${url}/_owt/health`);
      return url;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`owt did not start on ${url}`);
}

before(async () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'owt-js-adaptors-'));
  if (!URL_) URL_ = await startOwt(['--adaptors-dir', dir()]);
  if (!AUTH_URL) {
    const password = 'pässwörd 🔑';
    const digest = createHash('sha256').update(password, 'utf8').digest('hex');
    AUTH_URL = await startOwt(['--auth', `tester:${digest}`, '--adaptors-dir', dir()]);
    AUTH = `tester:${password}`;
  }
});

after(() => {
  for (const child of started) {
    try {
      process.kill(-(child.pid ?? 0), 'SIGTERM');
    } catch {
      // already gone
    }
  }
});

const HELLO = "def run(name):\n    return f'Hello, {name}!'\n";
/** About 20 KB of comment, so that the code crossing the wire shows. */
const PADDING = `# ${'x'.repeat(98)}\n`.repeat(200);

const FILE_INFO = `
import hashlib

def describe(part):
    data = part.read()
    return {
        "filename": part.filename,
        "content_type": part.content_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }

def run(image, n=1, extra=None):
    images = image if isinstance(image, list) else [image]
    return {"images": [describe(part) for part in images], "n": n, "extra": extra}
`;

const TICKS = `
def run(n):
    def events():
        for i in range(n):
            yield f"data: {i}\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
`;

/** Every byte value, a few times over. */
const PHOTO = new Uint8Array(256 * 40).map((_, i) => i % 256);

/**
 * `code` with a comment no other test sends: the server can't hold it yet.
 * @param {string} code
 */
const unique = (code) => `${code}\n# ${randomUUID()}\n`;

/**
 * What the adaptor reports for a file.
 * @param {Uint8Array} bytes
 * @param {string} filename
 * @param {string} contentType
 */
const described = (bytes, filename, contentType) => ({
  filename,
  content_type: contentType,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  size: bytes.length,
});

/**
 * @typedef {object} Sent
 * @property {string} method
 * @property {number} status
 * @property {number} size bytes of URL and body
 * @property {boolean} code whether the code itself went
 * @property {boolean} hash whether code_sha256 went
 * @property {boolean} multipart
 */

/**
 * Run `body` with fetch recording each request owt.js sends.
 * @template T
 * @param {() => Promise<T>} body
 * @returns {Promise<{result: T, sent: Sent[]}>}
 */
async function recording(body) {
  const real = globalThis.fetch;
  /** @type {Sent[]} */
  const sent = [];
  globalThis.fetch = async (input, init) => {
    const url = String(input);
    const form = init?.body instanceof FormData ? init.body : null;
    const text = typeof init?.body === 'string' ? init.body : '';
    let size = url.length + new TextEncoder().encode(text).length;
    for (const [, value] of form?.entries() ?? []) {
      size += typeof value === 'string' ? value.length : value.size;
    }
    /** @param {string} field */
    const has = (field) =>
      new URL(url).searchParams.has(field) || text.includes(`"${field}":`) || Boolean(form?.has(field));
    const response = await real(input, init);
    sent.push({
      method: init?.method ?? 'GET',
      status: response.status,
      size,
      code: has('code_b64'),
      hash: has('code_sha256'),
      multipart: form !== null,
    });
    return response;
  };
  try {
    return { result: await body(), sent };
  } finally {
    globalThis.fetch = real;
  }
}

/** @param {Sent[]} sent */
const shape = (sent) => sent.map((s) => [s.status, s.code]);

test('codeSha256 is the hex SHA-256 of the UTF-8 source', async () => {
  const code = 'def run(): return "こんにちは 🌍"';
  assert.equal(await codeSha256(code), createHash('sha256').update(code, 'utf8').digest('hex'));
});

test('call sends the hash first, and a 20 KB adaptor once', async () => {
  const code = unique(HELLO + PADDING);
  const first = await recording(() => call(URL_, code, { name: 'one' }));
  assert.equal(first.result, 'Hello, one!');
  assert.deepEqual(shape(first.sent), [
    [404, false],
    [200, true],
  ]);
  assert.ok(first.sent[0].hash && first.sent[0].size < 1000, JSON.stringify(first.sent));
  assert.ok(first.sent[1].size > 20_000);
  const again = await recording(async () => [
    await call(URL_, code, { name: 'two' }),
    await call(URL_, code, { name: 'get' }, { method: 'GET' }),
  ]);
  assert.deepEqual(again.result, ['Hello, two!', 'Hello, get!']);
  assert.deepEqual(shape(again.sent), [
    [200, false],
    [200, false],
  ]);
  assert.ok(again.sent.every((s) => s.size < 1000));
});

test('sendHash: false sends the code every time', async () => {
  const code = unique(HELLO);
  const { sent } = await recording(async () => {
    await call(URL_, code, { name: 'a' }, { sendHash: false });
    await call(URL_, code, { name: 'b' }, { sendHash: false });
  });
  assert.deepEqual(
    sent.map((s) => [s.status, s.code, s.hash]),
    [
      [200, true, false],
      [200, true, false],
    ],
  );
});

test('a GET by hash retries with the code in the URL', async () => {
  const code = unique(HELLO + PADDING);
  const { result, sent } = await recording(() =>
    call(`${URL_}/get`, code, { name: 'g' }, { method: 'GET' }),
  );
  assert.equal(result, 'Hello, g!');
  assert.deepEqual(
    sent.map((s) => [s.method, s.status, s.size > 20_000]),
    [
      ['GET', 404, false],
      ['GET', 200, true],
    ],
  );
  // owtify URLs carry the code: they work by themselves.
  const url = owtify(URL_, code, { name: 'u' });
  assert.ok(url.includes('code_b64=') && !url.includes('code_sha256'));
});

test('events() and stream() by hash: the 404 comes before any stream starts', async () => {
  const code = unique(TICKS);
  const { result, sent } = await recording(async () => {
    /** @type {string[]} */
    const data = [];
    for await (const event of events(URL_, code, { n: 3 })) {
      if (!(event instanceof Uint8Array)) data.push(event.data);
    }
    await stream(URL_, code, { n: 2 }, (event) => {
      if (!(event instanceof Uint8Array)) data.push(event.data);
    });
    return data;
  });
  assert.deepEqual(result, ['0', '1', '2', '0', '1']);
  assert.deepEqual(shape(sent), [
    [404, false],
    [200, true],
    [200, false],
  ]);
});

test('errors other than unknown_code are not retried', async () => {
  const code = unique('def run():\n    return 1 / 0\n');
  const { sent } = await recording(async () => {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(call(URL_, code), { name: 'OwtError', kind: 'adaptor_error' });
    }
  });
  assert.deepEqual(shape(sent), [
    [404, false],
    [500, true],
    [500, false],
  ]);
});

test('hash first with auth; a 401 is not retried', async () => {
  const code = unique(HELLO);
  const { sent } = await recording(async () => {
    assert.equal(await call(AUTH_URL, code, { name: 'a' }, { auth: AUTH }), 'Hello, a!');
    assert.equal(await call(AUTH_URL, code, { name: 'b' }, { auth: AUTH }), 'Hello, b!');
    await assert.rejects(call(AUTH_URL, unique(HELLO), { name: 'x' }), { status: 401 });
  });
  assert.deepEqual(
    sent.map((s) => s.status),
    [404, 200, 200, 401],
  );
  await register(AUTH_URL, 'js-auth-hello', HELLO, { auth: AUTH });
  assert.equal(await call(AUTH_URL, { adaptor: 'js-auth-hello' }, { name: 'n' }, { auth: AUTH }), 'Hello, n!');
  await unregister(AUTH_URL, 'js-auth-hello', { auth: AUTH });
  await assert.rejects(register(AUTH_URL, 'x', HELLO), { status: 401, kind: 'unauthorized' });
});

test('a File or Blob in kwargs reaches run with its name, type and bytes', async () => {
  const photo = new File([PHOTO], 'photo.jpg', { type: 'image/jpeg' });
  assert.deepEqual(await call(URL_, FILE_INFO, { image: photo, n: 3 }), {
    images: [described(PHOTO, 'photo.jpg', 'image/jpeg')],
    n: 3,
    extra: null,
  });
  // A Blob has no name: it takes the argument's. No type: octet-stream.
  const blob = new Blob([new Uint8Array([1, 2, 3])]);
  const nameless = await call(URL_, FILE_INFO, { image: blob, extra: { a: [1, null] } });
  assert.deepEqual(nameless.images, [
    described(new Uint8Array([1, 2, 3]), 'image', 'application/octet-stream'),
  ]);
  assert.deepEqual(nameless.extra, { a: [1, null] }); // JSON beside the files
  // Several of one name: run gets a list.
  const text = new Blob(['こんにちは'], { type: 'text/plain' });
  const several = await call(URL_, FILE_INFO, { image: [photo, text] });
  assert.deepEqual(several.images, [
    described(PHOTO, 'photo.jpg', 'image/jpeg'),
    described(new TextEncoder().encode('こんにちは'), 'image', 'text/plain'),
  ]);
});

test('files cross the wire once: with the code first, then with the hash', async () => {
  const code = unique(FILE_INFO + PADDING);
  const { result, sent } = await recording(async () => [
    await call(URL_, code, { image: new File([PHOTO], 'a.jpg', { type: 'image/jpeg' }) }),
    await call(URL_, code, { image: new File([PHOTO], 'b.jpg', { type: 'image/jpeg' }) }),
  ]);
  assert.deepEqual(
    result.map((r) => r.images[0].filename),
    ['a.jpg', 'b.jpg'],
  );
  assert.deepEqual(
    sent.map((s) => [s.status, s.code, s.multipart]),
    [
      [200, true, true],
      [200, false, true],
    ],
  );
  assert.ok(sent[1].size < sent[0].size - 19_000);
});

test('a file by GET, or in an owtify URL, is refused before anything is sent', async () => {
  const blob = new Blob(['x']);
  const { sent } = await recording(async () => {
    await assert.rejects(call(URL_, FILE_INFO, { image: blob }, { method: 'GET' }), {
      name: 'TypeError',
      message: /"image" is a file \(Blob\), which only a POST/,
    });
  });
  assert.deepEqual(sent, []);
  assert.throws(() => owtify(URL_, FILE_INFO, { image: blob }), /only a POST/);
  assert.throws(() => encodeRequest(FILE_INFO, { image: [blob] }), /only a POST/);
});

test('register, list, call by name (with files too), owtify by name, unregister', async () => {
  const name = `js-${randomUUID().slice(0, 8)}`;
  const code = unique(FILE_INFO);
  const info = await register(`${URL_}/any/path`, name, code);
  assert.equal(info.name, name);
  assert.equal(info.digest, await codeSha256(code));
  assert.equal(info.signature, 'run(image, n=1, extra=None)');
  assert.ok((await adaptors(URL_)).some((a) => a.name === name && a.digest === info.digest));
  assert.equal(registryUrl(`${URL_}/x?y=1`, 'a b'), `${URL_}/_owt/adaptors/a%20b`);

  const { result, sent } = await recording(() =>
    call(URL_, { adaptor: name }, { image: new File([PHOTO], 'r.jpg', { type: 'image/jpeg' }) }),
  );
  assert.deepEqual(result.images, [described(PHOTO, 'r.jpg', 'image/jpeg')]);
  assert.deepEqual(
    sent.map((s) => [s.status, s.code, s.hash]),
    [[200, false, false]],
  );
  // By hash, the registered code needs no sending.
  const byHash = await recording(() => call(URL_, code, { image: new Blob(['b']) }));
  assert.deepEqual(shape(byHash.sent), [[200, false]]);

  const hello = `${name}-hello`;
  await register(URL_, hello, HELLO);
  const url = owtify(`${URL_}/p`, { adaptor: hello }, { name: 'url' });
  assert.ok(url.includes(`adaptor=${hello}`));
  assert.equal(await (await fetch(url)).text(), 'Hello, url!');
  assert.equal(await call(URL_, { adaptor: hello }, { name: 'get' }, { method: 'GET' }), 'Hello, get!');
  /** @type {string[]} */
  const ticks = [];
  await register(URL_, `${name}-ticks`, TICKS);
  await stream(URL_, { adaptor: `${name}-ticks` }, { n: 2 }, (event) => {
    if (!(event instanceof Uint8Array)) ticks.push(event.data);
  });
  assert.deepEqual(ticks, ['0', '1']);

  for (const each of [name, hello, `${name}-ticks`]) await unregister(URL_, each);
  assert.ok(!(await adaptors(URL_)).some((a) => a.name.startsWith(name)));
  await assert.rejects(call(URL_, { adaptor: name }, {}), (error) => {
    assert.ok(error instanceof OwtError);
    assert.equal(error.status, 404);
    assert.equal(error.kind, 'unknown_adaptor');
    return true;
  });
  await assert.rejects(unregister(URL_, name), { status: 404, kind: 'unknown_adaptor' });
  await assert.rejects(register(URL_, '.hidden', HELLO), { status: 400, kind: 'bad_adaptor_name' });
  await assert.rejects(register(URL_, 'broken', 'def run(:\n'), { status: 400, kind: 'syntax_error' });
  assert.throws(() => encodeRequest(/** @type {any} */ ({ adaptor: '' })), TypeError);
});

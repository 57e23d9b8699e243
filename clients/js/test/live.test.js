// owt.js against a real owt server.
//
// tests/test_js_client.py runs this with OWT_TEST_URL (a plain server) and
// OWT_TEST_AUTH_URL + OWT_TEST_AUTH ("user:password", a server started with
// --auth). Without them (`npm test`), it starts both servers itself with
// $OWT_PYTHON, the repository's .venv, or python3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { call, events, OwtError, owtify, stream } from '../owt.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const AUTH_USER = 'tester';
const AUTH_PASSWORD = 'pässwörd 🔑';

/** @type {import('node:child_process').ChildProcess[]} */
const started = [];
let URL_ = process.env.OWT_TEST_URL ?? '';
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
  const child = spawn(
    python,
    ['-m', 'owt', 'serve', '--address', '127.0.0.1', '--port', String(port), ...extra],
    { cwd: REPO, detached: true, stdio: 'ignore' },
  );
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
  if (!URL_) URL_ = await startOwt([]);
  if (!AUTH_URL) {
    const digest = createHash('sha256').update(AUTH_PASSWORD, 'utf8').digest('hex');
    AUTH_URL = await startOwt(['--auth', `${AUTH_USER}:${digest}`]);
    AUTH = `${AUTH_USER}:${AUTH_PASSWORD}`;
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
const ECHO_JSON = 'def run(**kwargs):\n    return kwargs\n';
const UNICODE = 'こんにちは 🌍';

const TICKS = `
import time

def run(n, pause=0.0, fail=False):
    def events():
        for i in range(n):
            yield f"data: {i}\\n\\n"
            time.sleep(pause)
        if fail:
            raise RuntimeError("boom after " + str(n))
        yield "data: [DONE]\\n\\n"
    return events(), {"Content-Type": "text/event-stream"}
`;

test('call returns text for a str answer (the spec echo example)', async () => {
  const answer = await call(`${URL_}/hello`, HELLO, { name: 'owt' });
  assert.equal(answer, 'Hello, owt!');
});

test('call returns parsed JSON for a dict answer', async () => {
  const answer = await call(URL_, ECHO_JSON, { n: 3, xs: [1, 2], flag: true });
  assert.deepEqual(answer, { n: 3, xs: [1, 2], flag: true });
});

test('call returns bytes as a Uint8Array', async () => {
  const answer = await call(URL_, 'def run():\n    return bytes(range(256))\n');
  assert.ok(answer instanceof Uint8Array);
  assert.deepEqual(Array.from(answer), Array.from({ length: 256 }, (_, i) => i));
});

test('unicode round-trips by POST, by GET and in the code itself', async () => {
  assert.equal(await call(URL_, HELLO, { name: UNICODE }), `Hello, ${UNICODE}!`);
  assert.equal(await call(URL_, HELLO, { name: UNICODE }, { method: 'GET' }), `Hello, ${UNICODE}!`);
  const code = `def run():\n    return {"text": "${UNICODE}"}  # ${UNICODE}\n`;
  assert.deepEqual(await call(URL_, code), { text: UNICODE });
});

test("owtify URLs work with plain fetch, as the spec's app.js does", async () => {
  const url = owtify(`${URL_}/adaptor`, 'def run(_, prompt):\n    return prompt.upper()\n', {
    prompt: `output SOTA results ${UNICODE}`,
  });
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), `OUTPUT SOTA RESULTS ${UNICODE}`);
});

test('a GET URL just under the cap works; one byte over, GET is refused and POST works', async () => {
  const code = HELLO + `# ${'x'.repeat(78)}\n`.repeat(590); // about 48 KB of source
  const short = new URL(owtify(`${URL_}/p`, code, { name: 'big' }));
  const pad = 'a'.repeat(65_534 - short.pathname.length - short.search.length);
  const response = await fetch(owtify(`${URL_}/p${pad}`, code, { name: 'big' }));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'Hello, big!');
  const over = `${URL_}/p${pad}a`;
  assert.throws(() => owtify(over, code, { name: 'big' }), {
    message:
      "This URL's path and query string are 65,535 bytes, over the 65,534 bytes owt's HTTP " +
      'front accepts on a request line; send the call by POST (JSON body) instead.',
  });
  await assert.rejects(call(over, code, { name: 'big' }, { method: 'GET' }), /send the call by POST/);
  assert.equal(await call(over, code, { name: 'post' }), 'Hello, post!');
});

test('a string kwargs is sent as a Python expression the server evaluates', async () => {
  assert.deepEqual(await call(URL_, ECHO_JSON, "{'n': 2 ** 10, 'ok': True}"), { n: 1024, ok: true });
});

test('fnName picks the function to call', async () => {
  const code = 'def run():\n    return "run"\n\ndef other(x):\n    return f"other {x}"\n';
  assert.equal(await call(URL_, code, { x: 1 }, { fnName: 'other' }), 'other 1');
});

test('stream delivers server-sent events as they are produced', async () => {
  const started = performance.now();
  /** @type {{data: string, at: number}[]} */
  const seen = [];
  await stream(URL_, TICKS, { n: 3, pause: 0.4 }, (event) => {
    assert.ok(!(event instanceof Uint8Array));
    seen.push({ data: event.data, at: performance.now() - started });
  });
  assert.deepEqual(
    seen.map((e) => e.data),
    ['0', '1', '2', '[DONE]'],
  );
  // The first event came long before the generator finished (3 x 0.4 s).
  assert.ok(seen[0].at < seen[3].at - 700, JSON.stringify(seen));
});

test('events() is an async iterator over the same stream', async () => {
  /** @type {string[]} */
  const data = [];
  for await (const event of events(URL_, TICKS, { n: 2 }, { method: 'GET' })) {
    assert.ok(!(event instanceof Uint8Array));
    data.push(event.data);
  }
  assert.deepEqual(data, ['0', '1', '[DONE]']);
});

test('stream hands over raw chunks for a stream that is not SSE', async () => {
  const code =
    'import time\n\ndef run():\n    def parts():\n        for word in ["a", "b", "c"]:\n' +
    '            yield word.encode() * 3\n            time.sleep(0.05)\n    return parts()\n';
  /** @type {Uint8Array[]} */
  const chunks = [];
  await stream(URL_, code, undefined, (chunk) => {
    assert.ok(chunk instanceof Uint8Array);
    chunks.push(chunk);
  });
  assert.equal(Buffer.concat(chunks).toString(), 'aaabbbccc');
});

test('stream carries unicode events intact', async () => {
  const code = `def run(text):\n    return iter([f"data: {text}\\n\\n"]), {"Content-Type": "text/event-stream"}\n`;
  /** @type {string[]} */
  const data = [];
  await stream(URL_, code, { text: UNICODE }, (event) => {
    if (!(event instanceof Uint8Array)) data.push(event.data);
  });
  assert.deepEqual(data, [UNICODE]);
});

test('an adaptor exception rejects with OwtError carrying status, message and traceback', async () => {
  /** @type {OwtError | undefined} */
  let caught;
  try {
    await call(URL_, 'def run():\n    return 1 / 0\n');
  } catch (error) {
    caught = /** @type {OwtError} */ (error);
  }
  assert.ok(caught instanceof OwtError);
  assert.equal(caught.status, 500);
  assert.equal(caught.kind, 'adaptor_error');
  assert.match(caught.serverMessage, /division by zero/);
  assert.match(caught.traceback ?? '', /ZeroDivisionError/);
  assert.match(caught.requestId ?? '', /\w+/);
});

test('a syntax error is a 400 with its own kind', async () => {
  await assert.rejects(call(URL_, 'def run(:\n'), (error) => {
    assert.ok(error instanceof OwtError);
    assert.equal(error.status, 400);
    assert.equal(error.kind, 'syntax_error');
    return true;
  });
});

test('an error in the middle of an SSE stream rejects after the earlier events', async () => {
  /** @type {string[]} */
  const data = [];
  await assert.rejects(
    stream(URL_, TICKS, { n: 2, fail: true }, (event) => {
      if (!(event instanceof Uint8Array)) data.push(event.data);
    }),
    (error) => {
      assert.ok(error instanceof OwtError);
      assert.equal(error.kind, 'adaptor_error');
      assert.match(error.serverMessage, /boom after 2/);
      return true;
    },
  );
  assert.deepEqual(data, ['0', '1']);
});

test('a request can be aborted with a signal', async () => {
  const controller = new AbortController();
  const pending = call(URL_, 'import time\n\ndef run():\n    time.sleep(5)\n', undefined, {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(pending, { name: 'AbortError' });
});

test('auth: no credentials and a wrong password are refused, the right ones work', async () => {
  await assert.rejects(call(AUTH_URL, HELLO, { name: 'x' }), (error) => {
    assert.ok(error instanceof OwtError);
    assert.equal(error.status, 401);
    assert.equal(error.kind, 'unauthorized');
    return true;
  });
  const user = AUTH.slice(0, AUTH.indexOf(':'));
  await assert.rejects(call(AUTH_URL, HELLO, { name: 'x' }, { auth: `${user}:wrong` }), {
    status: 401,
  });
  assert.equal(await call(AUTH_URL, HELLO, { name: 'me' }, { auth: AUTH }), 'Hello, me!');
  const password = AUTH.slice(AUTH.indexOf(':') + 1);
  assert.equal(
    await call(AUTH_URL, HELLO, { name: 'me' }, { auth: { username: user, password }, method: 'GET' }),
    'Hello, me!',
  );
  /** @type {string[]} */
  const data = [];
  await stream(AUTH_URL, TICKS, { n: 1 }, (event) => {
    if (!(event instanceof Uint8Array)) data.push(event.data);
  }, { auth: AUTH });
  assert.deepEqual(data, ['0', '[DONE]']);
});

test("the README's error example: call on a plain URL gets the adaptor's error", async () => {
  await assert.rejects(call(`${URL_}/oops`, 'def run(): return 1 / 0'), (error) => {
    assert.ok(error instanceof OwtError);
    assert.equal(error.status, 500);
    assert.equal(error.kind, 'adaptor_error');
    assert.match(error.traceback ?? '', /ZeroDivisionError/);
    return true;
  });
});

test('call and stream refuse a URL that already carries code, saying why', async () => {
  const url = owtify(`${URL_}/adaptor`, 'def run(): return 1', {});
  await assert.rejects(call(url, 'def run(): return 1 / 0'), /already carries code_b64/);
  await assert.rejects(
    stream(url, 'def run(): return 1', {}, () => {}),
    /already carries code_b64/,
  );
});

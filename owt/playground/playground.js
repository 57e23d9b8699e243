// playground.js: the owt playground at /_owt/ (docs/playground.org).
//
// Write an adaptor and its kwargs, pick files for the arguments that are
// files, press Run, see the answer as its Content-Type says; copy the same
// call for curl, owt call, Python or JavaScript; share it as a link (which
// never carries a file). The page is served with a Content-Security-Policy
// that allows no inline script, so everything is wired up here.
//
// The one rule: nothing runs unless the user presses Run (or Ctrl+Enter in
// an editor). Code from a link, the history or an example is only put into
// the editors.

'use strict';

(() => {
  const HISTORY_KEY = 'owt-playground-history';
  const DRAFT_KEY = 'owt-playground-draft';
  const FORMAT_KEY = 'owt-playground-copy-format';
  const HISTORY_SIZE = 25;
  /** Longest history entry kept (localStorage holds a few MB per origin). */
  const HISTORY_ENTRY_LIMIT = 256 * 1024;
  /** owt's HTTP front refuses a longer request line (path and query). */
  const MAX_REQUEST_TARGET = 65534;
  const EXAMPLES = '/_owt/playground/examples/';

  const $ = (id) => document.getElementById(id);

  /**
   * A new element: `el('p', {class: 'x', text: 'hi'}, child...)`.
   * Text always goes in as text, never as markup.
   */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.className = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // -- text encodings ------------------------------------------------------

  const utf8 = new TextEncoder();

  function bytesToBase64(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  /** Standard base64 of the text's UTF-8 bytes (as owt's code_b64 wants). */
  const base64Text = (text) => bytesToBase64(utf8.encode(text));

  /** URL-safe base64 without padding, for the #fragment of share links. */
  const base64UrlText = (text) =>
    base64Text(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

  function fromBase64UrlText(value) {
    const standard = value.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(standard + '='.repeat((4 - (standard.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  }

  /** One word for a POSIX shell: single quotes, with ' written as '\''. */
  function shellQuote(word) {
    if (/^[A-Za-z0-9_\-.,:/@%+=]+$/.test(word)) return word;
    return "'" + word.replace(/'/g, "'\\''") + "'";
  }

  /** A JavaScript or Python string literal (JSON's rules suit both). */
  const stringLiteral = (text) => JSON.stringify(text);

  /** A JSON value written as a Python literal. */
  function pythonLiteral(value) {
    if (value === null) return 'None';
    if (value === true) return 'True';
    if (value === false) return 'False';
    if (typeof value === 'number' || typeof value === 'string') return JSON.stringify(value);
    if (Array.isArray(value)) return '[' + value.map(pythonLiteral).join(', ') + ']';
    const items = Object.entries(value).map(
      ([key, item]) => `${JSON.stringify(key)}: ${pythonLiteral(item)}`,
    );
    return '{' + items.join(', ') + '}';
  }

  /** Python source as a literal: a raw triple-quoted string when that reads
   * well and is exact, else an escaped one. */
  function pythonSource(code) {
    if (!code.includes("'''") && !/['\\]$/.test(code) && !code.includes('\r')) {
      return "r'''" + code + "'''";
    }
    return stringLiteral(code);
  }

  function formatDuration(ms) {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} bytes`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  // -- editors -------------------------------------------------------------

  /** A CodeMirror editor, or the bare textarea if CodeMirror didn't load. */
  function makeEditor(textarea, options) {
    if (typeof CodeMirror === 'function') {
      const editor = CodeMirror.fromTextArea(textarea, {
        lineNumbers: true,
        indentUnit: 4,
        tabSize: 4,
        indentWithTabs: false,
        viewportMargin: Infinity,
        extraKeys: {
          'Ctrl-Enter': () => run(),
          'Cmd-Enter': () => run(),
          Tab: (cm) => cm.execCommand(cm.somethingSelected() ? 'indentMore' : 'insertSoftTab'),
        },
        ...options,
      });
      return {
        get: () => editor.getValue(),
        set: (text) => editor.setValue(text),
        onChange: (handler) => editor.on('changes', handler),
        mark(line) {
          if (line >= 1 && line <= editor.lineCount()) {
            editor.addLineClass(line - 1, 'wrap', 'marked-line');
            editor.scrollIntoView({ line: line - 1, ch: 0 }, 60);
            this.marked.push(line - 1);
          }
        },
        unmark() {
          for (const line of this.marked) editor.removeLineClass(line, 'wrap', 'marked-line');
          this.marked = [];
        },
        marked: [],
      };
    }
    textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run();
      }
    });
    return {
      get: () => textarea.value,
      set: (text) => {
        textarea.value = text;
      },
      onChange: (handler) => textarea.addEventListener('input', handler),
      mark() {},
      unmark() {},
    };
  }

  const codeEditor = makeEditor($('code'), { mode: 'python' });
  const kwargsEditor = makeEditor($('kwargs'), {
    mode: { name: 'javascript', json: true },
    indentUnit: 2,
    tabSize: 2,
  });

  // -- the request the form describes --------------------------------------

  class InputError extends Error {}

  /** The path adaptors see, starting with one slash. */
  function readPath() {
    let path = $('path').value.trim() || '/';
    if (!path.startsWith('/')) path = '/' + path;
    path = path.split('#')[0];
    if (path.startsWith('//')) {
      // A URL would read it as another host ("//host/x").
      throw new InputError('A path can\'t start with //: write one slash.');
    }
    const bare = path.split('?')[0];
    if (bare === '/_owt' || bare.startsWith('/_owt/')) {
      throw new InputError('owt runs no adaptor under /_owt/: choose another path.');
    }
    return path;
  }

  /** What the form says to send. Throws InputError for what can't be sent. */
  function readRequest() {
    const code = codeEditor.get();
    const kwargsText = kwargsEditor.get();
    let kwargs = {};
    if (kwargsText.trim()) {
      try {
        kwargs = JSON.parse(kwargsText);
      } catch (error) {
        throw new InputError(`kwargs is not valid JSON: ${error.message}`);
      }
    }
    if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
      throw new InputError('kwargs must be a JSON object of names and values, like {"name": "owt"}.');
    }
    if (!code.trim()) throw new InputError('Write an adaptor first: Python source that defines run.');
    const files = readFiles(kwargs);
    const method = $('method').value === 'GET' ? 'GET' : 'POST';
    if (files.length && method === 'GET') {
      throw new InputError(
        'Files travel only in a POST (multipart/form-data), never in a GET URL: ' +
          'choose POST, or remove the files.',
      );
    }
    return {
      code,
      kwargsText,
      kwargs,
      files,
      path: readPath(),
      method,
      useCache: $('use-cache').checked,
    };
  }

  // -- file arguments ------------------------------------------------------

  /** owt's own fields: a file part of one of these names would be refused. */
  const PROTOCOL_FIELDS = [
    'code_b64',
    'code',
    'code_sha256',
    'adaptor',
    'kwargs_b64',
    'kwargs',
    'fn_name',
    'use_cache',
    'cache_kwargs',
    'cache_key_override',
    'pin',
    'timeout',
  ];

  /** Add a row to the Files area: an argument name and a file picker.
   * `was` lists the file names a past run sent (shown as a hint: the
   * history keeps names, never files). */
  function addFileRow(name = '', was = []) {
    const nameInput = el('input', {
      type: 'text',
      class: 'file-name',
      value: name,
      placeholder: 'argument name',
      'aria-label': 'Argument name',
      spellcheck: 'false',
    });
    const fileInput = el('input', { type: 'file', class: 'file-input', multiple: true, 'aria-label': 'File' });
    const hint = el('span', {
      class: 'note file-was',
      text: `was ${was.join(', ')}: pick ${was.length === 1 ? 'it' : 'them'} again`,
      hidden: !was.length,
    });
    const remove = el('button', { type: 'button', class: 'small file-remove', text: 'Remove' });
    const row = el('li', { class: 'file-row' }, nameInput, fileInput, hint, remove);
    nameInput.addEventListener('input', inputChanged);
    fileInput.addEventListener('change', () => {
      hint.hidden = true;
      inputChanged();
    });
    remove.addEventListener('click', () => {
      row.remove();
      inputChanged();
    });
    $('file-rows').append(row);
    return row;
  }

  /** Replace the rows with these: `[{name, files?: [file names it had]}]`. */
  function setFileRows(args) {
    $('file-rows').replaceChildren();
    for (const arg of Array.isArray(args) ? args : []) {
      if (!arg || typeof arg.name !== 'string') continue;
      const was = Array.isArray(arg.files) ? arg.files.filter((item) => typeof item === 'string') : [];
      addFileRow(arg.name, was);
    }
  }

  /** The argument names in the rows (what links, drafts and examples keep). */
  function fileRowNames() {
    return Array.from(document.querySelectorAll('#file-rows .file-name'))
      .map((input) => input.value.trim())
      .filter(Boolean);
  }

  /** The files to send, `[{name, files: [File...]}]` with each name once.
   * Rows with neither a name nor a file are left out. */
  function readFiles(kwargs) {
    const byName = new Map();
    for (const row of document.querySelectorAll('#file-rows .file-row')) {
      const name = row.querySelector('.file-name').value.trim();
      const picked = Array.from(row.querySelector('.file-input').files || []);
      if (!name && !picked.length) continue;
      if (!name) throw new InputError(`Give ${picked[0].name} an argument name: the name run takes it by.`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw new InputError(`A file's argument name must be a Python identifier (letters, digits, _), not "${name}".`);
      }
      if (PROTOCOL_FIELDS.includes(name)) {
        throw new InputError(`${name} is one of owt's own fields: give the file argument another name.`);
      }
      if (Object.prototype.hasOwnProperty.call(kwargs, name)) {
        throw new InputError(`${name} is both in kwargs and a file: send it once.`);
      }
      if (!picked.length) throw new InputError(`Choose a file for ${name}, or remove its row.`);
      byName.set(name, [...(byName.get(name) || []), ...picked]);
    }
    return Array.from(byName, ([name, files]) => ({ name, files }));
  }

  /** Names only, for the history: `[{name, files: [file names]}]`. */
  const fileNames = (req) => req.files.map(({ name, files }) => ({ name, files: files.map((file) => file.name) }));

  /** The fields of a GET query string. */
  function queryFields(req) {
    const fields = [['code_b64', base64Text(req.code)]];
    if (Object.keys(req.kwargs).length) fields.push(['kwargs_b64', base64Text(JSON.stringify(req.kwargs))]);
    if (req.useCache) fields.push(['use_cache', 'true']);
    return fields;
  }

  /** The JSON body of a POST. */
  function jsonBody(req) {
    const body = { code: req.code };
    if (Object.keys(req.kwargs).length) body.kwargs = req.kwargs;
    if (req.useCache) body.use_cache = true;
    return JSON.stringify(body);
  }

  /** The multipart body of a POST with files: owt's fields as text parts
   * (kwargs as JSON text), then each file under its argument's name. */
  function multipartBody(req) {
    const form = new FormData();
    form.append('code_b64', base64Text(req.code));
    if (Object.keys(req.kwargs).length) form.append('kwargs', JSON.stringify(req.kwargs));
    if (req.useCache) form.append('use_cache', 'true');
    for (const { name, files } of req.files) {
      for (const file of files) form.append(name, file, file.name);
    }
    return form;
  }

  /** The absolute URL of a path, percent-encoded as it goes on the wire. */
  function fullUrl(path) {
    return new URL(path, location.origin).href;
  }

  /** The URL and fetch options for a request. */
  function fetchArguments(req, signal) {
    if (req.method === 'GET') {
      const url = new URL(req.path, location.origin);
      for (const [name, value] of queryFields(req)) url.searchParams.append(name, value);
      const target = url.pathname.length + url.search.length;
      if (target > MAX_REQUEST_TARGET) {
        throw new InputError(
          `This GET request's path and query would be ${target.toLocaleString('en-US')} bytes, ` +
            `over the ${MAX_REQUEST_TARGET.toLocaleString('en-US')} owt accepts: choose POST.`,
        );
      }
      return [url.pathname + url.search, { method: 'GET', signal, credentials: 'same-origin', cache: 'no-store' }];
    }
    if (req.files.length) {
      // fetch writes the multipart Content-Type, with its boundary.
      const init = { method: 'POST', body: multipartBody(req), signal, credentials: 'same-origin', cache: 'no-store' };
      return [req.path, init];
    }
    return [
      req.path,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: jsonBody(req),
        signal,
        credentials: 'same-origin',
        cache: 'no-store',
      },
    ];
  }

  // -- running -------------------------------------------------------------

  const answerBox = $('answer');
  let running = null; // {controller, stopped}
  let objectUrls = [];
  /** How the last answer looked, so copied commands can treat it alike. */
  let lastAnswer = null;

  function setMeta(id, text, tone) {
    const node = $(id);
    node.textContent = text;
    node.className = tone || '';
  }

  function clearAnswer() {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
    answerBox.replaceChildren();
    codeEditor.unmark();
    for (const id of ['status', 'time', 'cache', 'content-type', 'request-id']) setMeta(id, '–');
  }

  function showProblem(message) {
    answerBox.replaceChildren(
      el('div', { class: 'error-view' }, el('p', { class: 'error-message', text: message })),
    );
  }

  async function run() {
    if (running) return;
    let req;
    let args;
    const controller = new AbortController();
    try {
      req = readRequest();
      args = fetchArguments(req, controller.signal);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      clearAnswer();
      showProblem(error.message);
      countRun();
      return;
    }
    clearAnswer();
    running = { controller, stopped: false };
    $('run').disabled = true;
    $('stop').disabled = false;
    answerBox.replaceChildren(el('p', { class: 'placeholder', text: 'Running…' }));
    const started = performance.now();
    let outcome = { status: 0, summary: '' };
    try {
      const response = await fetch(...args);
      const firstByte = performance.now() - started;
      showHeaders(response, firstByte);
      outcome = await showAnswer(response, req);
      outcome.status = response.status;
    } catch (error) {
      if (running.stopped) {
        outcome = { status: 0, summary: 'stopped' };
        answerBox.replaceChildren(el('p', { class: 'placeholder', text: 'Stopped before an answer came.' }));
      } else {
        outcome = { status: 0, summary: 'no answer' };
        showProblem(`No answer from owt: ${error.message}`);
      }
    } finally {
      const total = performance.now() - started;
      const time = $('time');
      time.textContent = time.dataset.firstByte
        ? `${formatDuration(total)} (first byte ${time.dataset.firstByte})`
        : formatDuration(total);
      delete time.dataset.firstByte;
      running = null;
      $('run').disabled = false;
      $('stop').disabled = true;
    }
    remember(req, outcome);
    renderCopy();
    countRun();
  }

  /** Runs finished so far, on <body data-runs> (for whoever watches the page). */
  function countRun() {
    document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
  }

  function stop() {
    if (!running) return;
    running.stopped = true;
    running.controller.abort();
  }

  function showHeaders(response, firstByte) {
    const tone = response.ok ? 'ok' : 'bad';
    setMeta('status', `${response.status} ${response.statusText}`.trim(), tone);
    setMeta('cache', response.headers.get('X-Owt-Cache') || '–');
    setMeta('content-type', response.headers.get('Content-Type') || '–');
    setMeta('request-id', response.headers.get('X-Request-Id') || '–');
    $('time').dataset.firstByte = formatDuration(firstByte);
  }

  function mediaType(response) {
    return (response.headers.get('Content-Type') || '').split(';')[0].trim().toLowerCase();
  }

  const EXTENSIONS = {
    'image/png': 'png',
    'image/jpeg': 'jpg',
    'image/gif': 'gif',
    'image/webp': 'webp',
    'image/svg+xml': 'svg',
    'audio/wav': 'wav',
    'audio/x-wav': 'wav',
    'audio/wave': 'wav',
    'audio/mpeg': 'mp3',
    'audio/ogg': 'ogg',
    'audio/flac': 'flac',
    'video/mp4': 'mp4',
    'video/webm': 'webm',
    'application/pdf': 'pdf',
    'application/zip': 'zip',
  };

  /** Show the body as its type says; returns a summary for the history. */
  async function showAnswer(response, req) {
    const type = mediaType(response);
    const signature = requestSignature(req);
    if (type === 'application/json' && !response.ok) {
      const text = await response.text();
      let body = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      if (body && typeof body === 'object' && typeof body.error === 'string') {
        showError(body, response.status);
        lastAnswer = { signature, kind: 'error' };
        return { summary: body.error };
      }
      showJson(text);
      return { summary: 'JSON' };
    }
    if (type === 'text/event-stream') {
      lastAnswer = { signature, kind: 'events' };
      return showEvents(response);
    }
    if (/^(image|audio|video)\//.test(type)) {
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      objectUrls.push(url);
      const kind = type.split('/')[0];
      let media;
      if (kind === 'image') media = el('img', { src: url, alt: `the answer (${type})` });
      else media = el(kind, { src: url, controls: true, preload: 'auto' });
      answerBox.replaceChildren(
        el('div', { class: 'toolbar' }, `${type}, ${formatBytes(blob.size)}`, downloadLink(url, type)),
        media,
      );
      lastAnswer = { signature, kind: 'binary', extension: EXTENSIONS[type] || 'bin' };
      return { summary: `${kind}, ${formatBytes(blob.size)}` };
    }
    if (type === 'text/html') {
      const text = await response.text();
      showHtml(text);
      lastAnswer = { signature, kind: 'text' };
      return { summary: text.trim() ? 'HTML' : 'empty' };
    }
    if (type === 'application/json' || type.endsWith('+json')) {
      const text = await response.text();
      showJson(text);
      lastAnswer = { signature, kind: 'json' };
      return { summary: 'JSON' };
    }
    if (!type || type.startsWith('text/') || type.endsWith('+xml') || type === 'application/xml') {
      if (!type && response.status === 200 && response.headers.get('Content-Length') === '0') {
        answerBox.replaceChildren(el('p', { class: 'placeholder', text: '(an empty answer)' }));
        lastAnswer = { signature, kind: 'text' };
        return { summary: 'empty' };
      }
      lastAnswer = { signature, kind: 'text' };
      return showText(response);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    objectUrls.push(url);
    answerBox.replaceChildren(
      el('div', { class: 'toolbar' }, `${type}, ${formatBytes(bytes.length)}`, downloadLink(url, type)),
      el('pre', { class: 'hexdump', text: hexdump(bytes.subarray(0, 512)) + (bytes.length > 512 ? '\n…' : '') }),
    );
    lastAnswer = { signature, kind: 'binary', extension: EXTENSIONS[type] || 'bin' };
    return { summary: formatBytes(bytes.length) };
  }

  function downloadLink(url, type) {
    return el('a', { href: url, download: `answer.${EXTENSIONS[type] || 'bin'}`, text: 'Download' });
  }

  function hexdump(bytes) {
    const lines = [];
    for (let i = 0; i < bytes.length; i += 16) {
      const row = Array.from(bytes.subarray(i, i + 16));
      const hex = row.map((b) => b.toString(16).padStart(2, '0')).join(' ');
      const text = row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
      lines.push(`${i.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${text}`);
    }
    return lines.join('\n');
  }

  function showJson(text) {
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      shown = text;
    }
    answerBox.replaceChildren(el('pre', { class: 'json', text: shown }));
  }

  /**
   * HTML in a frame that may run no script. A srcdoc frame of this page would
   * inherit its policy (no inline styles), so the HTML goes to preview.html,
   * framed with only its own script allowed, which puts it in a frame of its
   * own with every sandbox flag set.
   */
  function showHtml(text) {
    const frame = el('iframe', {
      sandbox: 'allow-scripts',
      src: '/_owt/playground/preview.html',
      referrerpolicy: 'no-referrer',
      title: 'the answer, as a page',
      class: 'preview',
    });
    const ready = (event) => {
      if (event.source !== frame.contentWindow || event.data !== 'owt-preview-ready') return;
      window.removeEventListener('message', ready);
      // The frame is sandboxed, so its origin is opaque: '*' is the only target.
      frame.contentWindow.postMessage(text, '*');
    };
    window.addEventListener('message', ready);
    const source = el('pre', { class: 'html-source', text, hidden: true });
    const toggle = el('button', { type: 'button', class: 'small', text: 'Show source' });
    toggle.addEventListener('click', () => {
      const showing = source.hidden;
      source.hidden = !showing;
      frame.hidden = showing;
      toggle.textContent = showing ? 'Show page' : 'Show source';
    });
    answerBox.replaceChildren(
      el('div', { class: 'toolbar' }, 'text/html, shown in a sandboxed frame (no scripts run)', toggle),
      frame,
      source,
    );
  }

  /** Text, shown as it arrives (a plain stream grows in place). */
  async function showText(response) {
    const pre = el('pre', { class: 'text' });
    const state = el('p', { class: 'stream-state' });
    answerBox.replaceChildren(pre, state);
    let received = 0;
    try {
      await readChunks(response, (text) => {
        received += text.length;
        pre.append(text);
      });
    } catch (error) {
      state.textContent = brokenOff(error, `after ${received} characters`);
      return { summary: 'text, cut short' };
    }
    if (!received) pre.replaceWith(el('p', { class: 'placeholder', text: '(an empty answer)' }));
    return { summary: received ? `text, ${received} chars` : 'empty' };
  }

  function brokenOff(error, where) {
    if (running && running.stopped) return `Stopped by you ${where}.`;
    return `The answer broke off ${where} (${error.message}): the adaptor failed midway, see owt's log.`;
  }

  /** Read the body as UTF-8 text, chunk by chunk. */
  async function readChunks(response, onText) {
    if (!response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      if (text) onText(text);
    }
    const rest = decoder.decode();
    if (rest) onText(rest);
  }

  /** A text/event-stream parser: feed it text, it calls onEvent per event. */
  class EventParser {
    constructor(onEvent) {
      this.onEvent = onEvent;
      this.pending = '';
      this.data = [];
      this.type = '';
      this.lastId = null;
    }

    feed(text) {
      const buffer = this.pending + text;
      let start = 0;
      for (let i = 0; i < buffer.length; i += 1) {
        const c = buffer[i];
        if (c !== '\n' && c !== '\r') continue;
        if (c === '\r' && i + 1 === buffer.length) break; // maybe half of \r\n
        this.line(buffer.slice(start, i));
        if (c === '\r' && buffer[i + 1] === '\n') i += 1;
        start = i + 1;
      }
      this.pending = buffer.slice(start);
    }

    line(line) {
      if (line === '') {
        this.dispatch();
        return;
      }
      if (line.startsWith(':')) return; // a comment
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.type = value;
      else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    }

    dispatch() {
      if (this.data.length) {
        this.onEvent({ event: this.type || 'message', data: this.data.join('\n'), id: this.lastId });
      }
      this.data = [];
      this.type = '';
    }
  }

  /** Server-sent events, each shown as it arrives; Stop cuts the stream. */
  async function showEvents(response) {
    const list = el('ol', { class: 'events' });
    const state = el('p', { class: 'stream-state', text: 'Streaming… (Stop ends it)' });
    answerBox.replaceChildren(list, state);
    let count = 0;
    let failed = null;
    const parser = new EventParser((event) => {
      count += 1;
      const item = el('li', { 'data-event': event.event });
      if (event.event !== 'message') item.append(el('span', { class: 'event-name', text: event.event }));
      item.append(el('span', { class: 'event-data', text: event.data }));
      if (event.data === '[DONE]') item.classList.add('done');
      if (event.event === 'error') {
        item.classList.add('error-event');
        failed = event.data;
      }
      list.append(item);
      answerBox.scrollTop = answerBox.scrollHeight;
    });
    try {
      await readChunks(response, (text) => parser.feed(text));
    } catch (error) {
      state.textContent = brokenOff(error, `after ${count} event${count === 1 ? '' : 's'}`);
      state.dataset.state = running && running.stopped ? 'stopped' : 'broken';
      return { summary: `${count} events, ${running && running.stopped ? 'stopped' : 'cut short'}` };
    }
    if (failed !== null) {
      let detail = failed;
      try {
        const body = JSON.parse(failed);
        detail = `${body.error}: ${body.message}`;
      } catch {
        detail = failed;
      }
      state.textContent = `The stream ended with an error after ${count} events: ${detail}`;
      state.dataset.state = 'error';
      return { summary: `${count} events, then an error` };
    }
    state.textContent = `The stream ended: ${count} event${count === 1 ? '' : 's'}.`;
    state.dataset.state = 'ended';
    return { summary: `${count} events` };
  }

  /** Where in the adaptor an error points: the syntax error's line, or the
   * last frame of the adaptor's own code in the traceback. */
  function adaptorLine(body) {
    if (Number.isInteger(body.line)) return { line: body.line, column: body.column };
    if (typeof body.traceback !== 'string') return null;
    const frames = [...body.traceback.matchAll(/File "<adaptor [^>]*>", line (\d+)/g)];
    if (!frames.length) return null;
    return { line: Number(frames[frames.length - 1][1]), column: null };
  }

  /** owt's JSON error: kind, message, line, traceback, the adaptor's output. */
  function showError(body, status) {
    const view = el('div', { class: 'error-view' });
    view.append(
      el(
        'p',
        { class: 'error-head' },
        el('span', { class: 'error-kind', text: body.error }),
        el('span', { class: 'error-status', text: `HTTP ${status}` }),
        typeof body.type === 'string' ? el('span', { class: 'error-type', text: body.type }) : null,
      ),
      el('p', { class: 'error-message', text: String(body.message ?? '') }),
    );
    const where = adaptorLine(body);
    if (where) {
      const column = Number.isInteger(where.column) ? `, column ${where.column}` : '';
      view.append(el('p', { class: 'error-line', text: `Line ${where.line}${column} of the adaptor` }));
      codeEditor.mark(where.line);
    }
    if (typeof body.text === 'string' && body.text) {
      view.append(el('pre', { class: 'error-source', text: body.text }));
    }
    if (typeof body.traceback === 'string' && body.traceback) {
      view.append(el('pre', { class: 'traceback', text: body.traceback }));
    }
    for (const stream of ['stdout', 'stderr']) {
      if (typeof body[stream] === 'string' && body[stream]) {
        view.append(
          el(
            'details',
            { open: true },
            el('summary', { text: `What the adaptor printed to ${stream}` }),
            el('pre', { class: stream, text: body[stream] }),
          ),
        );
      }
    }
    answerBox.replaceChildren(view);
  }

  // -- copy as -------------------------------------------------------------

  /** Whether owt asks for credentials (found out once, at load). */
  let authRequired = false;
  let copyFormat = 'curl';

  const requestSignature = (req) =>
    JSON.stringify([
      req.code,
      req.kwargsText,
      req.path,
      req.method,
      req.useCache,
      req.files.map(({ name, files }) => [name, files.map((file) => [file.name, file.size, file.lastModified])]),
    ]);

  /** How the last answer of this very request looked (text by default). */
  function answerKind(req) {
    if (lastAnswer && lastAnswer.signature === requestSignature(req)) return lastAnswer;
    return { kind: 'text' };
  }

  function heredoc(text, mark) {
    const lines = text.replace(/\n$/, '').split('\n');
    let label = mark;
    for (let n = 2; lines.includes(label); n += 1) label = `${mark}_${n}`;
    return { label, body: lines.join('\n') };
  }

  /** A file name or type as curl -F reads it: in double quotes (with \ and "
   * escaped) when it holds what -F would split on (, ;) or strip. */
  function curlFormWord(word) {
    if (word === '-') return './-'; // @- would read stdin
    if (!/[",;\\]|^\s|\s$/.test(word)) return word;
    return '"' + word.replace(/[\\"]/g, '\\$&') + '"';
  }

  function curlCommand(req, answer) {
    const words = ['curl', '-sS', '-N'];
    if (authRequired) words.push('-u', '"$OWT_CALL_AUTH"');
    const url = fullUrl(req.path);
    if (req.method === 'GET') {
      words.push('-G');
      for (const [name, value] of queryFields(req)) words.push('--data-urlencode', shellQuote(`${name}=${value}`));
    } else if (req.files.length) {
      // --form-string takes the text as it is; -F would read ; and @ in it.
      words.push('-F', shellQuote(`code_b64=${base64Text(req.code)}`));
      if (Object.keys(req.kwargs).length) {
        words.push('--form-string', shellQuote(`kwargs=${JSON.stringify(req.kwargs)}`));
      }
      if (req.useCache) words.push('-F', 'use_cache=true');
      for (const { name, files } of req.files) {
        for (const file of files) {
          let part = `${name}=@${curlFormWord(file.name)}`;
          if (file.type) part += `;type=${curlFormWord(file.type)}`;
          words.push('-F', shellQuote(part));
        }
      }
    } else {
      words.push('-H', shellQuote('Content-Type: application/json'), '--data-binary', shellQuote(jsonBody(req)));
    }
    if (answer.kind === 'binary') words.push('-o', `answer.${answer.extension}`);
    words.push(shellQuote(url));
    return words.join(' ');
  }

  function owtCallCommand(req, answer) {
    const words = ['owt', 'call'];
    if (authRequired) words.push('--auth', '"$OWT_CALL_AUTH"');
    if (req.method === 'GET') words.push('--get');
    if (req.useCache) words.push('--cache');
    words.push(shellQuote(fullUrl(req.path)), '-');
    for (const { name, files } of req.files) {
      for (const file of files) words.push(shellQuote(`${name}=@${file.name}`));
    }
    if (Object.keys(req.kwargs).length) words.push('--kwargs', shellQuote(JSON.stringify(req.kwargs)));
    if (answer.kind === 'binary') words.push('>', `answer.${answer.extension}`);
    const doc = heredoc(req.code, 'OWT_ADAPTOR');
    return `${words.join(' ')} <<'${doc.label}'\n${doc.body}\n${doc.label}`;
  }

  /** Python's keywords: a file argument of such a name goes in **{...}. */
  const PYTHON_KEYWORDS = new Set(
    ('False None True and as assert async await break class continue def del elif else except ' +
      'finally for from global if import in is lambda nonlocal not or pass raise return try ' +
      'while with yield').split(' '),
  );

  /** The arguments after `code` in Client.call or .stream: each file opened
   * from the current directory, the kwargs as **{...}. */
  function pythonArguments(req) {
    const words = [];
    const spread = Object.entries(req.kwargs).map(([key, value]) => `${JSON.stringify(key)}: ${pythonLiteral(value)}`);
    for (const { name, files } of req.files) {
      const opened = files.map((file) => `open(${stringLiteral(file.name)}, "rb")`);
      const value = opened.length === 1 ? opened[0] : `[${opened.join(', ')}]`;
      if (PYTHON_KEYWORDS.has(name)) spread.unshift(`${JSON.stringify(name)}: ${value}`);
      else words.push(`${name}=${value}`);
    }
    if (spread.length) words.push(`**{${spread.join(', ')}}`);
    return words.map((word) => `, ${word}`).join('');
  }

  function pythonSnippet(req, answer) {
    const lines = [];
    const imports = ['Client'];
    const hasKwargs = Object.keys(req.kwargs).length > 0;
    const get = req.method === 'GET';
    if (get && answer.kind === 'events') imports.push('Stream');
    else if (get) imports.push('decode_body');
    if (authRequired) lines.push('import os');
    if (answer.kind === 'json' || (get && hasKwargs)) lines.push('import json');
    if (answer.kind === 'binary') lines.push('from pathlib import Path');
    lines.push(`from owt.client import ${imports.join(', ')}`, '');
    lines.push(`code = ${pythonSource(req.code)}`);
    let client = `Client(${stringLiteral(fullUrl(req.path))}`;
    if (authRequired) client += ', auth=os.environ["OWT_CALL_AUTH"]';
    client += ')';
    if (req.useCache) client += '.using(use_cache=True)';
    lines.push(`owt = ${client}`);
    const kwargs = pythonArguments(req);
    if (answer.kind === 'events') {
      const source = get
        ? `Stream(owt.send(code, ${hasKwargs ? `json.dumps(${pythonLiteral(req.kwargs)})` : 'None'}, method="GET", stream=True))`
        : `owt.stream(code${kwargs})`;
      lines.push(`for event in ${source}:`, '    print(event.data)');
      return lines.join('\n');
    }
    if (get) {
      const text = hasKwargs ? `json.dumps(${pythonLiteral(req.kwargs)})` : 'None';
      lines.push(`answer = decode_body(owt.send(code, ${text}, method="GET"))`);
    } else {
      lines.push(`answer = owt.call(code${kwargs})`);
    }
    if (answer.kind === 'binary') lines.push(`Path("answer.${answer.extension}").write_bytes(answer)`);
    else if (answer.kind === 'json') lines.push('print(json.dumps(answer, indent=2))');
    else lines.push('print(answer)');
    return lines.join('\n');
  }

  /** The kwargs of a call with files: an object literal with a File read
   * from the current directory for each, by its name and type. */
  function javascriptArguments(req) {
    const entries = Object.entries(req.kwargs).map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`);
    for (const { name, files } of req.files) {
      const made = files.map((file) => {
        const type = file.type ? `, { type: ${stringLiteral(file.type)} }` : '';
        return `new File([await readFile(${stringLiteral(file.name)})], ${stringLiteral(file.name)}${type})`;
      });
      entries.push(`${JSON.stringify(name)}: ${made.length === 1 ? made[0] : `[${made.join(', ')}]`}`);
    }
    return `{\n  ${entries.join(',\n  ')},\n}`;
  }

  function javascriptSnippet(req, answer) {
    const lines = ['// Node 20+: save as call.mjs next to owt.js (clients/js/owt.js), run: node call.mjs'];
    const withFiles = req.files.length > 0;
    let kwargs = Object.keys(req.kwargs).length ? JSON.stringify(req.kwargs) : 'null';
    if (withFiles) kwargs = 'kwargs';
    const options = [];
    if (req.method === 'GET') options.push("method: 'GET'");
    if (req.useCache) options.push('useCache: true');
    if (authRequired) options.push('auth: process.env.OWT_CALL_AUTH');
    const optionText = options.length ? `, { ${options.join(', ')} }` : '';
    const url = stringLiteral(fullUrl(req.path));
    const fsNames = [];
    if (withFiles) fsNames.push('readFile');
    if (answer.kind === 'binary') fsNames.push('writeFile');
    if (fsNames.length) lines.push(`import { ${fsNames.join(', ')} } from 'node:fs/promises';`);
    lines.push(`import { ${answer.kind === 'events' ? 'stream' : 'call'} } from './owt.js';`, '');
    lines.push(`const code = ${stringLiteral(req.code)};`);
    if (withFiles) lines.push(`const kwargs = ${javascriptArguments(req)};`);
    if (answer.kind === 'events') {
      lines.push(`await stream(${url}, code, ${kwargs}, (event) => console.log(event.data)${optionText});`);
      return lines.join('\n');
    }
    lines.push(`const answer = await call(${url}, code, ${kwargs}${optionText});`);
    if (answer.kind === 'binary') lines.push(`await writeFile('answer.${answer.extension}', answer);`);
    else lines.push("console.log(typeof answer === 'string' ? answer : JSON.stringify(answer, null, 2));");
    return lines.join('\n');
  }

  const COPY_FORMATS = {
    curl: curlCommand,
    owt: owtCallCommand,
    python: pythonSnippet,
    javascript: javascriptSnippet,
  };

  function renderCopy() {
    const text = $('copy-text');
    const notes = [];
    let filesNote = '';
    try {
      const req = readRequest();
      text.textContent = COPY_FORMATS[copyFormat](req, answerKind(req));
      const picked = req.files.flatMap(({ files }) => files.map((file) => file.name));
      if (picked.length) {
        const names = picked.map((name) => JSON.stringify(name)).join(', ');
        filesNote =
          `It reads ${names} from the current directory: run it where ` +
          `${picked.length === 1 ? 'that file is' : 'those files are'}, or edit the path.`;
      }
      text.dataset.valid = 'true';
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      text.textContent = error.message;
      text.dataset.valid = 'false';
    }
    if (authRequired) {
      notes.push('This owt asks for credentials: set OWT_CALL_AUTH=user:password before running it.');
    }
    if (filesNote) notes.push(filesNote);
    if (copyFormat === 'owt') notes.push('owt call comes with owt (pip install owt).');
    if (copyFormat === 'python') notes.push('Needs owt installed (owt.client).');
    $('copy-note').textContent = notes.join(' ');
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      tab.setAttribute('aria-selected', String(tab.dataset.format === copyFormat));
    }
  }

  async function copyText(text, button) {
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy';
    }
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  }

  // -- history, draft and examples -----------------------------------------

  function readHistory() {
    try {
      const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
      return Array.isArray(list) ? list.filter((item) => item && typeof item.code === 'string') : [];
    } catch {
      return [];
    }
  }

  function writeHistory(list) {
    for (let keep = list.length; keep >= 0; keep -= 1) {
      try {
        localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, keep)));
        return;
      } catch {
        // full: drop the oldest entry and try again
      }
    }
  }

  function remember(req, outcome) {
    if (req.code.length + req.kwargsText.length > HISTORY_ENTRY_LIMIT) return;
    const entry = {
      at: Date.now(),
      code: req.code,
      kwargs: req.kwargsText,
      path: req.path,
      method: req.method,
      useCache: req.useCache,
      // That it had files, and their names: never their content.
      files: fileNames(req),
      status: outcome.status,
      summary: outcome.summary || '',
    };
    const same = (item) =>
      item.code === entry.code &&
      item.kwargs === entry.kwargs &&
      item.path === entry.path &&
      item.method === entry.method &&
      item.useCache === entry.useCache &&
      JSON.stringify(item.files || []) === JSON.stringify(entry.files);
    const list = [entry, ...readHistory().filter((item) => !same(item))].slice(0, HISTORY_SIZE);
    writeHistory(list);
    renderHistory();
  }

  function firstLine(code) {
    const lines = code.split('\n').map((line) => line.trim());
    return lines.find((line) => line.startsWith('def ')) || lines.find(Boolean) || '';
  }

  /** A history entry's files, by name (the files themselves aren't kept). */
  function historyFiles(files) {
    if (!Array.isArray(files) || !files.length) return null;
    const text = files
      .filter((arg) => arg && typeof arg.name === 'string' && Array.isArray(arg.files))
      .map((arg) => `${arg.name}=${arg.files.join(', ')}`)
      .join('; ');
    return el('span', { class: 'files', text: `files (names only): ${text}` });
  }

  function renderHistory() {
    const list = $('history');
    list.replaceChildren();
    for (const entry of readHistory()) {
      const when = new Date(entry.at);
      const ok = entry.status >= 200 && entry.status < 400;
      const button = el(
        'button',
        { type: 'button', title: 'Put this run back in the editors (it does not run)' },
        el('span', { class: 'when', text: when.toLocaleTimeString() }),
        el('span', { class: 'where', text: `${entry.method} ${entry.path}` }),
        el('span', { class: 'what', text: firstLine(entry.code) }),
        el('span', {
          class: `outcome ${ok ? 'ok' : 'bad'}`,
          text: `${entry.status || '–'} ${entry.summary || ''}`.trim(),
        }),
        historyFiles(entry.files),
      );
      button.addEventListener('click', () => {
        load(entry.code, entry.kwargs, entry.path, entry.method, entry.useCache, entry.files);
      });
      list.append(el('li', {}, button));
    }
  }

  /** Put a request into the form; it does not run. `files` names the file
   * arguments (`[{name, files?: [file names]}]`), whose files the user picks. */
  function load(code, kwargsText, path, method, useCache, files = []) {
    setFileRows(files);
    codeEditor.set(code);
    kwargsEditor.set(kwargsText || '{}');
    $('path').value = path || '/';
    $('method').value = method === 'GET' ? 'GET' : 'POST';
    $('use-cache').checked = Boolean(useCache);
    clearAnswer();
    answerBox.replaceChildren(el('p', { class: 'placeholder', text: 'Press Run to run it.' }));
    renderCopy();
    saveDraft();
  }

  function saveDraft() {
    try {
      localStorage.setItem(
        DRAFT_KEY,
        JSON.stringify({
          code: codeEditor.get(),
          kwargs: kwargsEditor.get(),
          path: $('path').value,
          method: $('method').value,
          useCache: $('use-cache').checked,
          files: fileRowNames().map((name) => ({ name })),
        }),
      );
    } catch {
      // no room: the draft is a convenience
    }
  }

  function readDraft() {
    try {
      const draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || 'null');
      return draft && typeof draft.code === 'string' ? draft : null;
    } catch {
      return null;
    }
  }

  let examples = [];

  async function loadExampleList() {
    try {
      const response = await fetch(EXAMPLES + 'examples.json', { credentials: 'same-origin' });
      examples = await response.json();
    } catch {
      examples = [];
    }
    const select = $('example');
    for (const example of examples) {
      select.append(el('option', { value: example.name, text: example.title }));
    }
  }

  async function loadExample(name) {
    const example = examples.find((item) => item.name === name);
    if (!example) return;
    const response = await fetch(EXAMPLES + example.file, { credentials: 'same-origin' });
    const code = await response.text();
    const files = (example.files || []).map((name) => ({ name }));
    load(code, JSON.stringify(example.kwargs || {}, null, 2), example.path, example.method, false, files);
  }

  // -- share links ---------------------------------------------------------

  function shareLink() {
    const params = new URLSearchParams();
    params.set('code', base64UrlText(codeEditor.get()));
    params.set('kwargs', base64UrlText(kwargsEditor.get()));
    params.set('path', $('path').value.trim() || '/');
    params.set('method', $('method').value);
    if ($('use-cache').checked) params.set('use_cache', '1');
    // The names of the file arguments, never the files.
    for (const name of fileRowNames()) params.append('file', name);
    return `${location.origin}/_owt/#${params}`;
  }

  /** What a #fragment carries, or null if it carries no code. */
  function readLink(hash) {
    const params = new URLSearchParams(hash.replace(/^#/, ''));
    if (!params.has('code')) return null;
    return {
      code: fromBase64UrlText(params.get('code')),
      kwargs: params.has('kwargs') ? fromBase64UrlText(params.get('kwargs')) : '{}',
      path: params.get('path') || '/',
      method: params.get('method') === 'GET' ? 'GET' : 'POST',
      useCache: params.get('use_cache') === '1',
      files: params
        .getAll('file')
        .filter(Boolean)
        .map((name) => ({ name })),
    };
  }

  function showNotice(text, onLoad) {
    $('notice-text').textContent = text;
    const button = $('notice-load');
    button.hidden = !onLoad;
    button.onclick = onLoad
      ? () => {
          onLoad();
          $('notice').hidden = true;
        }
      : null;
    $('notice').hidden = false;
  }

  const FROM_LINK =
    'This code came from a link. Read it before you press Run: it runs on this owt server with your rights.';

  /** Code from the page's #fragment goes into the editors, never runs. */
  function loadFromLink(link) {
    load(link.code, link.kwargs, link.path, link.method, link.useCache, link.files);
    const names = link.files.map((arg) => arg.name).join(', ');
    const files = names ? ` It takes files as ${names}: a link carries no files, pick your own.` : '';
    showNotice(FROM_LINK + files);
  }

  // -- wiring --------------------------------------------------------------

  async function detectAuth() {
    try {
      const response = await fetch('/_owt/health', { credentials: 'omit', cache: 'no-store' });
      authRequired = response.status === 401;
    } catch {
      authRequired = false;
    }
    renderCopy();
  }

  let copyTimer = null;
  function inputChanged() {
    clearTimeout(copyTimer);
    copyTimer = setTimeout(() => {
      renderCopy();
      saveDraft();
    }, 200);
  }

  function wire() {
    $('request-form').addEventListener('submit', (event) => {
      event.preventDefault();
      run();
    });
    $('stop').addEventListener('click', stop);
    codeEditor.onChange(() => {
      codeEditor.unmark();
      inputChanged();
    });
    kwargsEditor.onChange(inputChanged);
    for (const id of ['path', 'method', 'use-cache']) {
      $(id).addEventListener('input', inputChanged);
      $(id).addEventListener('change', inputChanged);
    }
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      tab.addEventListener('click', () => {
        copyFormat = tab.dataset.format;
        try {
          localStorage.setItem(FORMAT_KEY, copyFormat);
        } catch {
          // not kept
        }
        renderCopy();
      });
    }
    $('copy').addEventListener('click', (event) => copyText($('copy-text').textContent, event.currentTarget));
    $('share').addEventListener('click', (event) => {
      const url = shareLink();
      const field = $('share-url');
      field.value = url;
      field.hidden = false;
      $('share-note').hidden = false;
      field.select();
      copyText(url, event.currentTarget);
    });
    $('add-file').addEventListener('click', () => {
      addFileRow().querySelector('.file-name').focus();
      inputChanged();
    });
    $('clear-history').addEventListener('click', () => {
      writeHistory([]);
      renderHistory();
    });
    $('example').addEventListener('change', async (event) => {
      const name = event.target.value;
      event.target.value = '';
      await loadExample(name);
    });
    $('notice-close').addEventListener('click', () => {
      $('notice').hidden = true;
    });
    // A new #fragment (a link pasted into this tab) is offered, not loaded.
    window.addEventListener('hashchange', () => {
      let link = null;
      try {
        link = readLink(location.hash);
      } catch {
        link = null;
      }
      if (link) showNotice('The address now carries other code.', () => loadFromLink(link));
    });
  }

  async function start() {
    wire();
    try {
      const saved = localStorage.getItem(FORMAT_KEY);
      if (saved && saved in COPY_FORMATS) copyFormat = saved;
    } catch {
      // the default format, then
    }
    renderHistory();
    const listed = loadExampleList();
    let link = null;
    try {
      link = readLink(location.hash);
    } catch {
      showNotice('The code in this link could not be read (it is not base64 of UTF-8 text).');
    }
    await listed;
    if (link) {
      loadFromLink(link);
    } else {
      const draft = readDraft();
      if (draft) load(draft.code, draft.kwargs, draft.path, draft.method, draft.useCache, draft.files);
      else await loadExample('echo');
      answerBox.replaceChildren(el('p', { class: 'placeholder', text: 'The answer appears here.' }));
    }
    renderCopy();
    await detectAuth();
    document.body.dataset.ready = 'true';
  }

  start();
})();

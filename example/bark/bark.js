// example/bark/bark.js: stream speech from an owt TTS adaptor into a web page.
//
// The page sends the adaptor's code with every request; owt runs it and
// answers with server-sent events, one per sentence:
//   data: {"sentence": <base64 WAV>, "cumulative": <base64 WAV>, ...}
// and finally `data: [DONE]`. No libraries: plain browser JavaScript.

'use strict';

// Base64 of a string's UTF-8 bytes (btoa alone fails beyond Latin-1).
function utf8ToBase64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function base64ToBytes(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

// The owt fields for one TTS call.
function makeRequest(code, text, speaker, sentenceTemplate, splitType) {
  return {
    code_b64: utf8ToBase64(code),
    kwargs_b64: utf8ToBase64(JSON.stringify({
      text: text,
      speaker: speaker,
      sentence_template: sentenceTemplate,
      split_type: splitType,
    })),
  };
}

// EventSource can only GET, so the fields travel in the query string.
function audioUrl(url, code, text, speaker, sentenceTemplate, splitType) {
  const request = makeRequest(code, text, speaker, sentenceTemplate, splitType);
  return url + '?' + new URLSearchParams(request).toString();
}

// Start streaming; returns the EventSource (call .close() to stop).
// handlers: onChunk(chunk), onDone(), onError(message).
function getAudio(url, code, text, speaker, sentenceTemplate, splitType, handlers) {
  const target = audioUrl(url, code, text, speaker, sentenceTemplate, splitType);
  const source = new EventSource(target);
  let chunks = 0;
  let finished = false;
  const finish = () => {
    finished = true;
    source.close();
  };
  source.onmessage = (event) => {
    if (event.data === '[DONE]') {
      finish();
      handlers.onDone(chunks);
      return;
    }
    chunks += 1;
    handlers.onChunk(JSON.parse(event.data));
  };
  source.addEventListener('error', (event) => {
    if (finished) {
      return;
    }
    finish();
    if (event.data) {
      // owt ends a failed stream with `event: error` and a JSON message.
      handlers.onError(JSON.parse(event.data).message);
    } else if (chunks === 0) {
      // The request itself was refused: ask again to read owt's reason.
      explainFailure(target).then(handlers.onError);
    } else {
      handlers.onError('the stream broke off after ' + chunks + ' sentence(s)');
    }
  });
  return source;
}

async function explainFailure(target) {
  try {
    const response = await fetch(target);
    const body = await response.json();
    return body.message || response.statusText;
  } catch (error) {
    return 'owt did not answer at ' + target.split('?')[0] + ' (' + error + ')';
  }
}

// Run a small adaptor and return its JSON answer.
async function callOwt(url, code, kwargs) {
  const fields = { code_b64: utf8ToBase64(code) };
  if (kwargs !== undefined) {
    fields.kwargs_b64 = utf8ToBase64(JSON.stringify(kwargs));
  }
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(fields),
  });
  if (!response.ok) {
    throw new Error((await response.json()).message || response.statusText);
  }
  return response.json();
}

// ---- The page ----

function pageElement(id) {
  return document.getElementById(id);
}

// Adaptor sources are embedded in <script type="text/plain"> elements by
// bark_construct_curl.sh; opened straight from disk they are placeholders.
function embeddedCode(name) {
  const element = pageElement('adaptor-' + name);
  const text = element ? element.textContent.replace(/^\n/, '') : '';
  return text.includes('{% include') ? null : text;
}

function setStatus(message, state) {
  pageElement('status').textContent = message;
  document.body.dataset.state = state;
}

function showAdaptorCode() {
  const name = pageElement('adaptor').value;
  pageElement('code').value = embeddedCode(name) ||
    '# Open this page through example/bark/bark_construct_curl.sh to embed ' +
    'owt/lib/' + name + '.py here.';
}

function playCumulative(player, bytes) {
  const resumeAt = player.currentTime;
  const wasPlaying = !player.paused || !player.src;
  const old = player.src;
  player.src = URL.createObjectURL(new Blob([bytes], { type: 'audio/wav' }));
  if (old.startsWith('blob:')) {
    URL.revokeObjectURL(old);
  }
  player.addEventListener('loadedmetadata', () => {
    if (resumeAt) {
      player.currentTime = resumeAt;
    }
  }, { once: true });
  if (wasPlaying) {
    player.play().catch(() => { /* autoplay refused: the controls still work */ });
  }
}

function addChunk(chunk, count) {
  const item = document.createElement('li');
  const label = document.createElement('span');
  label.textContent = chunk.text || ('sentence ' + count);
  const clip = document.createElement('audio');
  clip.controls = true;
  clip.src = URL.createObjectURL(
    new Blob([base64ToBytes(chunk.sentence)], { type: 'audio/wav' }));
  item.append(label, clip);
  pageElement('chunks').append(item);
}

let currentStream = null;

function stopSpeaking() {
  if (currentStream) {
    currentStream.close();
    currentStream = null;
  }
}

function handleSpeak() {
  stopSpeaking();
  const code = pageElement('code').value;
  pageElement('chunks').replaceChildren();
  const player = pageElement('player');
  player.removeAttribute('src');
  player.load();
  let count = 0;
  setStatus('Speaking…', 'speaking');
  currentStream = getAudio(
    pageElement('url').value,
    code,
    pageElement('text').value,
    pageElement('speaker').value,
    pageElement('sentence-template').value,
    pageElement('split-type').value,
    {
      onChunk(chunk) {
        count += 1;
        addChunk(chunk, count);
        playCumulative(player, base64ToBytes(chunk.cumulative));
        setStatus(count + ' sentence(s) received…', 'speaking');
      },
      onDone() {
        currentStream = null;
        setStatus('Done: ' + count + ' sentence(s).', 'done');
      },
      onError(message) {
        currentStream = null;
        setStatus('Error: ' + message, 'error');
      },
    });
}

// Pick the adaptor this owt can run: Bark where it is installed, else espeak.
async function chooseAdaptor() {
  const probe = embeddedCode('probe');
  if (!probe) {
    return 'espeak';
  }
  try {
    const can = await callOwt(pageElement('url').value, probe);
    return can.bark ? 'bark' : 'espeak';
  } catch (error) {
    return 'espeak';
  }
}

async function setUpPage() {
  if (!pageElement('speak')) {
    return;
  }
  const served = location.protocol === 'http:' || location.protocol === 'https:';
  pageElement('url').value = (served ? location.origin : 'http://localhost:9876') + '/tts';
  pageElement('adaptor').addEventListener('change', showAdaptorCode);
  pageElement('speak').addEventListener('click', handleSpeak);
  pageElement('stop').addEventListener('click', () => {
    stopSpeaking();
    setStatus('Stopped.', 'ready');
  });
  setStatus('Asking owt which adaptor it can run…', 'loading');
  const adaptor = await chooseAdaptor();
  pageElement('adaptor').value = adaptor;
  showAdaptorCode();
  setStatus('Ready (' + adaptor + ').', 'ready');
}

// Outside a page (Node loading this file to call getAudio) there is none to set up.
if (typeof document !== 'undefined') {
  document.addEventListener('DOMContentLoaded', setUpPage);
}

// The gateway API with the bearer token, and the live-update stream.
//
// The token lives in sessionStorage: it is gone when the tab closes (a shared
// office PC), and it is sent only in the Authorization header, never in a URL.

const TOKEN_KEY = 'ce.token';

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the session lasts until reload
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
/** Called when the gateway says the token is not (or no longer) valid. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function request(path, init = {}, token = getToken()) {
  const headers = { accept: 'application/json', ...(init.headers ?? {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { ...init, headers, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', err instanceof Error ? err.message : String(err));
  }
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let msg = res.statusText;
    try {
      const body = await res.json();
      if (body?.error) {
        code = body.error.code;
        msg = body.error.message;
      }
    } catch {
      // not JSON
    }
    if (res.status === 401 && token === getToken()) onUnauthorized();
    throw new ApiError(res.status, code, msg);
  }
  return res;
}

/** GET (or another method) returning JSON; throws ApiError with the CE_* code. */
export async function api(path, init, token) {
  const res = await request(path, init, token);
  return res.status === 204 ? null : res.json();
}

/** Fetch a file with the bearer header and hand it to the browser as a download. */
export async function download(path, fallbackName) {
  const res = await request(path, { headers: { accept: '*/*' } });
  const blob = await res.blob();
  const cd = res.headers.get('content-disposition') ?? '';
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(cd);
  const name = m ? decodeURIComponent(m[1] ?? m[2]) : fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { name, bytes: blob.size };
}

/**
 * Live updates: GET /api/events read with fetch() and a stream reader (an
 * EventSource cannot send the Authorization header), parsed as Server-Sent
 * Events (HTML Living Standard §9.2.6 "Interpreting an event stream"),
 * reconnecting with the server's `retry:` delay plus jittered backoff and
 * resuming with Last-Event-ID. A stream silent for 45 s (three missed 15 s
 * pings) is treated as dead: NAT boxes drop idle connections without a word.
 */
export function liveStream({ onEvent, onStatus }) {
  let lastEventId = null;
  let retryMs = 3000;
  let failures = 0;
  let stopped = false;
  let controller = null;
  let timer = null;
  let watchdog = null;

  const status = (s) => onStatus?.(s);

  const armWatchdog = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => controller?.abort(), 45_000);
  };

  const dispatch = (ev) => {
    if (ev.id !== null) lastEventId = ev.id;
    if (!ev.data && ev.type === 'message') return;
    let data = null;
    try {
      data = ev.data ? JSON.parse(ev.data) : null;
    } catch {
      return;
    }
    onEvent(ev.type, data);
  };

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    status('connecting');
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${getToken()}` };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    try {
      const res = await fetch('/api/events', { headers, signal: controller.signal, cache: 'no-store' });
      if (res.status === 401) {
        onUnauthorized();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      status('open');
      failures = 0;
      armWatchdog();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let ev = { type: 'message', data: '', id: null };
      let dataLines = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armWatchdog();
        buf += value;
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
          if (line === '') {
            if (dataLines.length || ev.type !== 'message') {
              ev.data = dataLines.join('\n');
              dispatch(ev);
            } else if (ev.id !== null) lastEventId = ev.id;
            ev = { type: 'message', data: '', id: null };
            dataLines = [];
            continue;
          }
          if (line.startsWith(':')) continue; // comment (": ping")
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? '' : line.slice(colon + 1);
          if (val.startsWith(' ')) val = val.slice(1);
          if (field === 'event') ev.type = val;
          else if (field === 'data') dataLines.push(val);
          else if (field === 'id') ev.id = val;
          else if (field === 'retry' && /^\d+$/.test(val)) retryMs = Number(val);
        }
      }
    } catch (err) {
      if (stopped) return;
      void err;
    } finally {
      clearTimeout(watchdog);
    }
    if (stopped) return;
    status('lost');
    failures++;
    // Full jitter on top of the server's retry delay, capped at 30 s.
    const delay = Math.min(30_000, retryMs * 2 ** Math.min(failures - 1, 4)) * (0.5 + Math.random() / 2);
    timer = setTimeout(connect, delay);
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(watchdog);
      controller?.abort();
    },
  };
}

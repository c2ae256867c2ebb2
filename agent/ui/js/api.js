// Talking to the agent: the token (kept in this browser's localStorage), JSON requests with
// `Authorization: Bearer`, and the WebSocket URL with `?token=` (browsers cannot set headers
// on WebSockets). Errors keep the API's `{error, message}` so panels can say what happened.

const TOKEN_KEY = 'vigil.token';

/** The saved token, or '' when none is set. */
export function token() {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

/** Save (or, when empty, forget) the token. */
export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** True when the endpoint does not exist or is not working yet in this agent. */
  get unavailable() {
    return this.status === 404 || this.status === 501 || this.status === 503 || this.status === 0;
  }

  /** One short line for a panel. */
  describe(what) {
    if (this.status === 401) return `${what} needs the API token: enter it at the top right.`;
    if (this.status === 0) return `${what} is not reachable: is the agent running?`;
    if (this.status === 404) return `${what}: not available in this version of the agent.`;
    if (this.status === 503 || this.status === 501) return `${what}: not available right now. ${this.message}`;
    return `${what}: ${this.message}`;
  }
}

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

async function send(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', String(e));
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's error page): reported below with the status.
  }
  if (!response.ok) {
    throw new ApiError(response.status, json?.error ?? 'http_error', json?.message ?? `HTTP ${response.status}`);
  }
  return json;
}

/** GET a JSON endpoint; `params` become the query string (empty values are left out). */
export function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, value);
  }
  const qs = query.toString();
  return send('GET', qs ? `${path}?${qs}` : path);
}

/** POST a JSON body. */
export function postJson(path, body) {
  return send('POST', path, body);
}

/** The absolute WebSocket URL of `path` on this agent, with the token when there is one. */
export function wsUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const t = token();
  return `${scheme}://${location.host}${path}${t ? `?token=${encodeURIComponent(t)}` : ''}`;
}

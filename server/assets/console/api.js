// Talking to kura as the signed-in key: the session cookie goes with every
// request, the CSRF token in `x-kura-csrf` with every change.

export const BASE = '/_kura/console/';
let csrf = '';

export function setCsrf(token) { csrf = token; }

/** An S3 path: bucket and each segment of the key percent-encoded. */
export function s3Path(bucket = '', key = '') {
  let p = `${BASE}s3/`;
  if (bucket) p += encodeURIComponent(bucket);
  if (key) p += `/${key.split('/').map(encodeURIComponent).join('/')}`;
  return p;
}

/** A query string from pairs (a `null` value gives a bare name, `?uploads`). */
export function query(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    parts.push(v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Raised for any answer that is not 2xx; `code` is the S3 or API code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

function signedOut() {
  window.dispatchEvent(new CustomEvent('kura-signed-out'));
}

async function failure(resp) {
  if (resp.status === 401) signedOut();
  const text = await resp.text();
  if ((resp.headers.get('content-type') || '').includes('json')) {
    try {
      const j = JSON.parse(text);
      return new ApiError(resp.status, j.code, j.message);
    } catch { /* fall through */ }
  }
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const code = doc.querySelector('Code')?.textContent;
  const message = doc.querySelector('Message')?.textContent;
  return new ApiError(resp.status, code, message);
}

/** One request; throws ApiError unless the answer is 2xx. */
export async function request(method, url, { headers = {}, body } = {}) {
  const h = { ...headers };
  if (method !== 'GET' && method !== 'HEAD') h['x-kura-csrf'] = csrf;
  const resp = await fetch(url, { method, headers: h, body, credentials: 'same-origin', cache: 'no-store' });
  if (!resp.ok) throw await failure(resp);
  return resp;
}

/** A request answering XML: the parsed document. */
export async function xml(method, url, opts) {
  const resp = await request(method, url, opts);
  return new DOMParser().parseFromString(await resp.text(), 'application/xml');
}

/** A console or admin API call with a JSON body and answer. */
export async function json(method, path, body) {
  const opts = body === undefined ? {} : {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
  const resp = await request(method, BASE + path, opts);
  return resp.status === 204 ? null : resp.json();
}

/** Text of the first `name` child of `el`. */
export function field(el, name) {
  for (const c of el.children) if (c.localName === name) return c.textContent;
  return '';
}

/** A PUT with upload progress (fetch has none): resolves to the XHR. */
export function putWithProgress(url, body, onProgress, headers = {}) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    x.setRequestHeader('x-kura-csrf', csrf);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.addEventListener('progress', (e) => onProgress(e.loaded));
    x.addEventListener('load', () => {
      if (x.status >= 200 && x.status < 300) return resolve(x);
      if (x.status === 401) signedOut();
      const doc = new DOMParser().parseFromString(x.responseText || '<x/>', 'application/xml');
      reject(new ApiError(x.status, doc.querySelector('Code')?.textContent, doc.querySelector('Message')?.textContent));
    });
    x.addEventListener('error', () => reject(new ApiError(0, 'NetworkError', 'The connection failed.')));
    x.send(body);
  });
}

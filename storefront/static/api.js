// The shop's public API, on the origin that serves this page. Every
// failure becomes an ApiError carrying the API's own code and message.

// ApiError is an answer of the shop that is not a success, or a request
// that never got one (status 0).
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let skewMs = 0; // the shop's clock minus ours, from the last Date header

// serverNow is the shop's idea of now, in milliseconds, for countdowns.
export function serverNow() {
  return Date.now() + skewMs;
}

// call sends one request. opts: token, body (sent as JSON), headers.
// It returns the decoded JSON answer (null for 204) or throws an ApiError.
export async function call(method, path, opts = {}) {
  const headers = {Accept: 'application/json', ...(opts.headers || {})};
  if (opts.token) headers.Authorization = 'Bearer ' + opts.token;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let resp;
  try {
    resp = await fetch(path, {method, headers, body, cache: 'no-store', credentials: 'omit'});
  } catch {
    throw new ApiError(0, 'network', 'The shop cannot be reached. Check your connection and try again.');
  }
  const date = Date.parse(resp.headers.get('Date') || '');
  if (!Number.isNaN(date)) skewMs = date - Date.now();
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (resp.ok) return data;
  const e = data && data.error;
  if (e && typeof e.message === 'string') {
    throw new ApiError(resp.status, e.code || '', e.message, e.retry_after_seconds || 0);
  }
  const msg = text.trim() && text.length < 200 ? text.trim() : `${resp.status} ${resp.statusText}`;
  throw new ApiError(resp.status, '', `The shop answered: ${msg}`, 0);
}

// query makes "?a=1&b=2" of the set values of params ("" when none is set).
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

const id = s => encodeURIComponent(s);

export const register = (email, password, name) => call('POST', '/register', {body: {email, password, name}});
export const login = (email, password) => call('POST', '/login', {body: {email, password}});
export const me = token => call('GET', '/users/me', {token});
export const products = params => call('GET', '/products' + query(params));
export const product = pid => call('GET', '/products/' + id(pid));
export const stock = pid => call('GET', '/inventory/' + id(pid));
export const createProduct = (token, p) => call('POST', '/products', {token, body: p});
export const updateProduct = (token, pid, patch) => call('PATCH', '/products/' + id(pid), {token, body: patch});
export const addStock = (token, pid, quantity) => call('POST', '/inventory/' + id(pid), {token, body: {quantity}});
export const placeOrder = (token, items, key) =>
  call('POST', '/orders', {token, body: {items}, headers: {'Idempotency-Key': key}});
export const orders = (token, params) => call('GET', '/orders' + query(params), {token});
export const order = (token, oid) => call('GET', '/orders/' + id(oid), {token});
export const pay = (token, oid, card) => call('POST', '/orders/' + id(oid) + '/pay', {token, body: {card_number: card}});
export const cancel = (token, oid) => call('POST', '/orders/' + id(oid) + '/cancel', {token});

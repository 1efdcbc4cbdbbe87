// What the storefront remembers, in sessionStorage only: it is gone when
// the tab closes, and no other tab or site sees it.

const SESSION = 'kitshop.session';
const CART = 'kitshop.cart';

function read(key, fallback) {
  try {
    const v = JSON.parse(sessionStorage.getItem(key));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  if (value === null) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, JSON.stringify(value));
}

// session is {token, expiresAt, user} of the signed-in account, or null.
export function session() {
  const s = read(SESSION, null);
  if (s && s.expiresAt && Date.parse(s.expiresAt) <= Date.now()) {
    write(SESSION, null);
    return null;
  }
  return s;
}

export function setSession(login) {
  write(SESSION, login ? {token: login.token, expiresAt: login.expires_at, user: login.user} : null);
}

export const token = () => session()?.token || '';
export const isAdmin = () => session()?.user?.role === 'admin';

// The cart: lines of {id, name, price, currency, quantity} and the
// Idempotency-Key of its order. The key is made once per cart content, so
// a double click or a retry of the same order sends the same key and the
// shop makes one order; any change to the cart makes a new key.

export function cart() {
  const c = read(CART, null);
  return c && Array.isArray(c.lines) ? c : {lines: [], key: ''};
}

function save(c) {
  c.key = '';
  write(CART, c);
  return c;
}

export function addToCart(p, quantity) {
  const c = cart();
  const line = c.lines.find(l => l.id === p.id);
  if (line) line.quantity += quantity;
  else c.lines.push({id: p.id, name: p.name, price: p.price, currency: p.currency, quantity});
  return save(c);
}

export function setQuantity(pid, quantity) {
  const c = cart();
  const line = c.lines.find(l => l.id === pid);
  if (line) line.quantity = quantity;
  return save(c);
}

export function removeFromCart(pid) {
  const c = cart();
  c.lines = c.lines.filter(l => l.id !== pid);
  return save(c);
}

export function clearCart() {
  write(CART, null);
}

// orderKey returns the cart's Idempotency-Key, making it the first time.
export function orderKey() {
  const c = cart();
  if (!c.key) {
    // getRandomValues, unlike randomUUID, also works on plain http.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    c.key = 'storefront-' + [...bytes].map(b => b.toString(16).padStart(2, '0')).join('');
    write(CART, c);
  }
  return c.key;
}

export const cartCount = () => cart().lines.reduce((n, l) => n + l.quantity, 0);

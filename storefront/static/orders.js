// The cart, placing an order, paying or cancelling it, and the order history.

import {h, field, formError, showError, busy} from './dom.js';
import * as api from './api.js';
import {cart, setQuantity, removeFromCart, clearCart, orderKey, token, session, setSession} from './state.js';
import {money, when, countdown, page, failure, go, announce} from './ui.js';
import {refreshNav} from './nav.js';
import {requireLogin} from './account.js';

// totals sums lines by currency: [{currency, amount}].
function totals(lines) {
  const by = new Map();
  for (const l of lines) by.set(l.currency, (by.get(l.currency) || 0) + l.price * l.quantity);
  return [...by].map(([currency, amount]) => ({currency, amount}));
}

const totalText = lines => totals(lines).map(t => money(t.amount, t.currency)).join(' + ') || money(0, 'USD');

// cartPage shows the cart with its quantities, and places the order.
export function cartPage() {
  const c = cart();
  if (c.lines.length === 0) {
    page('Cart', h('p', {class: 'empty'}, 'Your cart is empty. ', h('a', {href: '#/'}, 'Browse the products')));
    return;
  }
  const total = h('output', {class: 'total-amount', 'aria-live': 'polite'}, totalText(c.lines));
  const list = h('ul', {class: 'lines'});
  const redraw = () => {
    total.textContent = totalText(cart().lines);
    refreshNav();
  };
  for (const l of c.lines) {
    const lineTotal = h('span', {class: 'line-total'}, money(l.price * l.quantity, l.currency));
    const qty = field({label: `Quantity of ${l.name}`, name: 'quantity', type: 'number', value: String(l.quantity),
      min: '1', step: '1', inputmode: 'numeric'});
    const input = qty.querySelector('input');
    const err = qty.querySelector('.error');
    input.addEventListener('change', () => {
      const n = Number(input.value);
      if (!Number.isInteger(n) || n < 1) {
        err.textContent = 'The quantity must be a whole number of at least 1; use Remove to take it out.';
        err.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        return;
      }
      err.hidden = true;
      input.removeAttribute('aria-invalid');
      setQuantity(l.id, n);
      lineTotal.textContent = money(l.price * n, l.currency);
      redraw();
    });
    const li = h('li', {class: 'line'},
      h('a', {class: 'line-name', href: '#/product/' + encodeURIComponent(l.id)}, l.name),
      h('span', {class: 'unit'}, money(l.price, l.currency) + ' each'),
      qty, lineTotal,
      h('button', {type: 'button', class: 'secondary', 'aria-label': `Remove ${l.name}`, onclick: () => {
        removeFromCart(l.id);
        li.remove();
        redraw();
        announce(`Removed ${l.name}`);
        if (cart().lines.length === 0) cartPage();
        else list.querySelector('input')?.focus();
      }}, 'Remove'));
    list.append(li);
  }

  const form = h('form', {class: 'checkout', novalidate: true, onsubmit: async e => {
    e.preventDefault();
    if (!session()) return requireLogin('/cart');
    await busy(form, async () => {
      const lines = cart().lines;
      if (lines.length === 0) return true; // placed already
      try {
        const o = await api.placeOrder(token(), lines.map(l => ({product_id: l.id, quantity: l.quantity})), orderKey());
        clearCart();
        refreshNav();
        announce('Order placed');
        go('#/order/' + encodeURIComponent(o.id));
        return true;
      } catch (err) {
        showError(form, err);
      }
    });
  }},
  h('p', {class: 'total'}, 'Total: ', total),
  session() ? null : h('p', {}, 'You will be asked to ', h('a', {href: '#/login?next=/cart'}, 'log in'), ' first.'),
  formError(),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Place order')));
  page('Cart', list, form);
}

const statusLabel = {
  pending: 'Awaiting payment',
  paying: 'Payment in progress',
  paid: 'Paid',
  cancelled: 'Cancelled',
  expired: 'Expired',
  refunded: 'Refunded',
};

function statusBadge(o) {
  return h('span', {class: 'badge ' + o.status}, statusLabel[o.status] || o.status);
}

// expiry is the live "expires in 14:59" of a pending order, updated by tick.
function expiry(o) {
  const el = h('span', {class: 'expiry'});
  const tick = () => {
    const left = Date.parse(o.expires_at) - api.serverNow();
    el.textContent = left > 0 ? `Expires in ${countdown(left)}` : 'Expired: the stock is being released';
  };
  tick();
  return {el, tick};
}

// ordersPage shows the signed-in user's orders, newest first.
export async function ordersPage(ctx) {
  if (!session()) return requireLogin('/orders');
  const list = h('ul', {class: 'orders'});
  const more = h('button', {type: 'button', class: 'secondary', hidden: true}, 'Older orders');
  const err = h('p', {class: 'error', role: 'alert', hidden: true});
  const ticks = [];
  let cursor = '';
  const load = async () => {
    const res = await api.orders(token(), {limit: 20, cursor});
    if (!ctx.alive()) return;
    for (const o of res.items) {
      const live = o.status === 'pending' ? expiry(o) : null;
      if (live) ticks.push(live.tick);
      list.append(h('li', {class: 'order'},
        h('h2', {}, h('a', {href: '#/order/' + encodeURIComponent(o.id)}, 'Order ' + o.id)),
        h('p', {}, statusBadge(o), ' ', live?.el),
        h('p', {}, `${o.lines.reduce((n, l) => n + l.quantity, 0)} items · ${money(o.total, o.currency)} · placed ${when(o.created_at)}`),
        h('p', {class: 'muted'}, o.lines.map(l => `${l.quantity} × ${l.name}`).join(', '))));
    }
    cursor = res.next_cursor || '';
    more.hidden = !cursor;
    if (!list.childNodes.length) list.replaceWith(h('p', {class: 'empty'}, 'No orders yet. ', h('a', {href: '#/'}, 'Browse the products')));
  };
  more.addEventListener('click', async () => {
    err.hidden = true;
    try {
      await load();
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
  try {
    await load();
  } catch (e) {
    if (e.status === 401) return expired(ctx, '/orders', e);
    if (ctx.alive()) failure('Your orders', e);
    return;
  }
  if (!ctx.alive()) return;
  page('Your orders', list, err, more);
  ctx.every(1000, () => ticks.forEach(t => t()));
}

// expired forgets a session the shop no longer accepts and asks for a new login.
function expired(ctx, route, err) {
  if (!ctx.alive()) return;
  if (err.code === 'missing_token' || err.code === 'invalid_token' || err.code === 'token_expired' || err.code === 'account_disabled') {
    setSession(null);
    refreshNav();
    requireLogin(route);
    return;
  }
  failure('Sign-in needed', err);
}

// orderPage shows one order; a pending one can be paid or cancelled.
export async function orderPage(ctx, id) {
  if (!session()) return requireLogin('/order/' + id);
  let o;
  try {
    o = await api.order(token(), id);
  } catch (e) {
    if (e.status === 401) return expired(ctx, '/order/' + id, e);
    if (ctx.alive()) failure(e.status === 404 ? 'Order not found' : 'Order', e);
    return;
  }
  if (ctx.alive()) showOrder(ctx, o);
}

function showOrder(ctx, o, message) {
  const status = h('p', {class: 'status'}, statusBadge(o));
  const lines = h('table', {class: 'order-lines'},
    h('caption', {class: 'visually-hidden'}, 'What the order holds'),
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Product'), h('th', {scope: 'col'}, 'Quantity'),
      h('th', {scope: 'col'}, 'Price'), h('th', {scope: 'col'}, 'Subtotal'))),
    h('tbody', {}, o.lines.map(l => h('tr', {},
      h('td', {}, h('a', {href: '#/product/' + encodeURIComponent(l.product_id)}, l.name)),
      h('td', {}, String(l.quantity)),
      h('td', {}, money(l.unit_price, o.currency)),
      h('td', {}, money(l.unit_price * l.quantity, o.currency))))),
    h('tfoot', {}, h('tr', {}, h('th', {scope: 'row', colspan: '3'}, 'Total'), h('td', {class: 'order-total'}, money(o.total, o.currency)))));

  const history = h('ol', {class: 'history'});
  const content = [status];
  if (message) content.push(h('p', {class: 'done', role: 'status'}, message));
  content.push(h('p', {class: 'muted'}, `Placed ${when(o.created_at)}`), lines);

  if (o.status === 'pending') {
    const live = expiry(o);
    status.append(' ', live.el);
    ctx.every(1000, live.tick);
    const pay = h('form', {class: 'pay', novalidate: true, onsubmit: async e => {
      e.preventDefault();
      await busy(pay, async () => {
        try {
          const paid = await api.pay(token(), o.id, pay.elements.card_number.value);
          if (ctx.alive()) { ctx.reset(); showOrder(ctx, paid, 'Thank you: the order is paid.'); }
          announce('The order is paid');
        } catch (err) {
          if (!ctx.alive()) return;
          showError(pay, err);
          if (err.code === 'order_expired' || err.code === 'invalid_transition' || err.code === 'payment_pending') refreshLater(ctx, o.id);
          else refreshHistory(ctx, o.id, history);
        }
      });
    }},
    h('h2', {}, 'Pay'),
    field({label: 'Card number', name: 'card_number', autocomplete: 'cc-number', inputmode: 'numeric', required: true,
      hint: 'Development payments: 4242 4242 4242 4242 is paid, 4000 0000 0000 0002 is declined.',
      codes: 'invalid_card card_declined payments_unavailable payment_pending order_expired'}),
    formError(),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Pay ' + money(o.total, o.currency))));
    content.push(pay);
  }
  if (o.status === 'pending' || o.status === 'paying') {
    const cancel = h('form', {class: 'cancel', novalidate: true, onsubmit: async e => {
      e.preventDefault();
      await busy(cancel, async () => {
        try {
          const c = await api.cancel(token(), o.id);
          if (ctx.alive()) { ctx.reset(); showOrder(ctx, c, 'The order is cancelled and its stock released.'); }
          announce('The order is cancelled');
        } catch (err) {
          if (ctx.alive()) showError(cancel, err);
        }
      });
    }},
    formError(),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'danger'}, 'Cancel order')));
    content.push(cancel);
  }
  if (o.status === 'paying') refreshLater(ctx, o.id);

  content.push(h('h2', {}, 'History'), history);
  showHistory(history, o);
  content.push(h('p', {}, h('a', {href: '#/orders'}, '← All your orders')));
  page('Order ' + o.id, ...content);
  if (message) {
    // The form that had the focus is gone: keyboard users go on from the news.
    const news = document.querySelector('#main .done');
    news.setAttribute('tabindex', '-1');
    news.focus();
  }
}

// showHistory lists the order's changes of status in list.
function showHistory(list, o) {
  list.replaceChildren(...(o.history || []).map(s =>
    h('li', {}, `${when(s.at)}: ${statusLabel[s.to] || s.to}${s.reason ? ` (${s.reason.replaceAll('_', ' ')})` : ''}`)));
}

// refreshHistory reloads the order's history only (after a declined card),
// leaving the form and its message as they are.
async function refreshHistory(ctx, id, list) {
  try {
    const fresh = await api.order(token(), id);
    if (ctx.alive()) showHistory(list, fresh);
  } catch {
    // the history stays as it was
  }
}

// refreshLater reloads the order in a moment, when its state is changing
// without us (a payment settling, an expiry).
function refreshLater(ctx, id) {
  ctx.after(2000, async () => {
    try {
      const fresh = await api.order(token(), id);
      if (!ctx.alive()) return;
      const focused = document.activeElement;
      const same = focused && focused.closest('form') && fresh.status === 'pending';
      if (!same) { ctx.reset(); showOrder(ctx, fresh); }
    } catch {
      // the page stays as it is
    }
  });
}

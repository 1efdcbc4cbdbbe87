// Browsing: the product list (paging, category filter, name search) and a
// product's page with its live stock.

import {h, field, formError, showError, clearErrors} from './dom.js';
import * as api from './api.js';
import {addToCart} from './state.js';
import {money, stockText, page, failure, go, announce} from './ui.js';
import {refreshNav} from './nav.js';

export const DEFAULT_LIMIT = 8;

// previous remembers, for each page's cursor, the cursor of the page before
// it, learnt while paging forward ("" is the first page).
const previous = new Map();
let categories = null; // every category seen, loaded once per visit

// forgetCategories makes the next product list load the categories again
// (after an admin added a product).
export function forgetCategories() {
  categories = null;
}

async function loadCategories() {
  if (categories) return categories;
  const seen = new Set();
  let cursor = '';
  for (let i = 0; i < 10; i++) { // at most 1,000 products looked at
    const p = await api.products({limit: 100, cursor});
    for (const item of p.items) if (item.category) seen.add(item.category);
    cursor = p.next_cursor;
    if (!cursor) break;
  }
  categories = [...seen].sort();
  return categories;
}

// listHash is the route of a product list.
export function listHash(params) {
  return '#/' + api.query(params);
}

// productList shows one page of products for params {q, category, cursor, limit}.
export async function productList(ctx, params) {
  const q = params.get('q') || '';
  const category = params.get('category') || '';
  const cursor = params.get('cursor') || '';
  const limitParam = params.get('limit') || '';
  const limit = Number(limitParam) || DEFAULT_LIMIT;
  const filters = {q, category, limit: limitParam};

  let result, cats, loadErr = null;
  try {
    [result, cats] = await Promise.all([api.products({q, category, cursor, limit}), loadCategories().catch(() => [])]);
  } catch (err) {
    if (!ctx.alive()) return;
    // A bad cursor or query is the user's (or an old link's) doing: show
    // the API's message beside the search form.
    if (err.status !== 400) return failure('Products', err);
    result = null;
    cats = categories || [];
    loadErr = err;
  }
  if (!ctx.alive()) return;

  const err = formError();
  const search = h('form', {role: 'search', class: 'search', novalidate: true, onsubmit: e => {
    e.preventDefault();
    const f = new FormData(search);
    go(listHash({q: f.get('q').trim(), category: f.get('category'), limit: limitParam}));
  }},
  field({label: 'Search', name: 'q', type: 'search', value: q, codes: 'invalid_q', autocomplete: 'off'}),
  field({label: 'Category', name: 'category', value: category,
    options: [{value: '', label: 'All categories'}, ...cats.map(c => ({value: c, label: c}))]}),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Search')),
  err);

  page('Products', search);
  if (loadErr) {
    showError(search, loadErr);
    return;
  }

  const main = document.getElementById('main');
  const what = [q && `named like “${q}”`, category && `in ${category}`].filter(Boolean).join(' ');
  if (result.items.length === 0) {
    main.append(h('p', {class: 'empty'}, what ? `No products ${what}.` : 'No products yet.'));
  } else {
    main.append(h('ul', {class: 'grid', 'aria-label': what ? `Products ${what}` : 'Products'},
      result.items.map(p => h('li', {class: 'card'},
        h('h2', {}, h('a', {href: '#/product/' + encodeURIComponent(p.id)}, p.name)),
        h('p', {class: 'category'}, p.category),
        h('p', {class: 'price'}, money(p.price, p.currency)),
        h('button', {type: 'button', class: 'secondary', 'aria-label': `Add ${p.name} to the cart`, onclick: () => {
          addToCart(p, 1);
          refreshNav();
          announce(`Added ${p.name} to the cart`);
        }}, 'Add to cart')))));
  }

  if (result.next_cursor) previous.set(result.next_cursor, cursor);
  const nav = h('nav', {class: 'pager', 'aria-label': 'Pages'});
  if (cursor) {
    const prev = previous.get(cursor);
    nav.append(prev !== undefined
      ? h('a', {href: listHash({...filters, cursor: prev}), rel: 'prev'}, '← Previous')
      : h('a', {href: listHash(filters)}, '← First page'));
  }
  if (result.next_cursor) {
    nav.append(h('a', {href: listHash({...filters, cursor: result.next_cursor}), rel: 'next'}, 'Next →'));
  }
  if (nav.childNodes.length) main.append(nav);
}

// productPage shows one product, its price and its stock, refreshed every
// few seconds while the page is open.
export async function productPage(ctx, id) {
  let p, s;
  try {
    [p, s] = await Promise.all([api.product(id), api.stock(id).catch(err => {
      if (err.status === 404) return {available: 0};
      throw err;
    })]);
  } catch (err) {
    if (ctx.alive()) failure(err.status === 404 ? 'Product not found' : 'Product', err);
    return;
  }
  if (!ctx.alive()) return;

  const stock = h('p', {class: 'stock', id: 'stock'});
  const add = h('button', {type: 'submit'}, 'Add to cart');
  const showStock = available => {
    const text = stockText(available);
    if (stock.textContent !== text) stock.textContent = text;
    stock.classList.toggle('out', available <= 0);
    add.disabled = available <= 0;
  };
  showStock(s.available);

  const done = h('p', {class: 'done', role: 'status'});
  const form = h('form', {class: 'buy', novalidate: true, onsubmit: e => {
    e.preventDefault();
    clearErrors(form);
    const n = Number(form.elements.quantity.value);
    if (!Number.isInteger(n) || n < 1) {
      return showError(form, {code: 'invalid_quantity', message: 'The quantity must be a whole number of at least 1.'});
    }
    addToCart(p, n);
    refreshNav();
    done.replaceChildren(`Added ${n} × ${p.name} to the cart. `, h('a', {href: '#/cart'}, 'View the cart'));
  }},
  field({label: 'Quantity', name: 'quantity', type: 'number', value: '1', min: '1', step: '1', inputmode: 'numeric', codes: 'invalid_quantity'}),
  h('div', {class: 'actions'}, add),
  formError(), done);

  page(p.name,
    h('p', {class: 'category'}, p.category),
    h('p', {class: 'description'}, p.description),
    h('p', {class: 'price big'}, money(p.price, p.currency)),
    stock, form,
    h('p', {}, h('a', {href: '#/'}, '← All products')));

  ctx.every(5000, async () => {
    try {
      const fresh = await api.stock(id);
      if (ctx.alive()) showStock(fresh.available);
    } catch {
      // keep the last figure; the next refresh tries again
    }
  });
}

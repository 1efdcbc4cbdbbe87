// The storefront: a router over the URL's fragment (#/product/ID), so the
// server serves one page and every view is a link that can be bookmarked.

import {h} from './dom.js';
import {page, failure} from './ui.js';
import {refreshNav, markCurrent} from './nav.js';
import {productList, productPage} from './catalog.js';
import {loginPage, registerPage, logout} from './account.js';
import {cartPage, ordersPage, orderPage} from './orders.js';
import {adminPage} from './admin.js';

const routes = [
  [/^\/$/, (ctx, m, params) => productList(ctx, params)],
  [/^\/product\/([^/]+)$/, (ctx, m) => productPage(ctx, decodeURIComponent(m[1]))],
  [/^\/cart$/, () => cartPage()],
  [/^\/orders$/, ctx => ordersPage(ctx)],
  [/^\/order\/([^/]+)$/, (ctx, m) => orderPage(ctx, decodeURIComponent(m[1]))],
  [/^\/login$/, (ctx, m, params) => loginPage(ctx, params)],
  [/^\/register$/, () => registerPage()],
  [/^\/admin$/, ctx => adminPage(ctx)],
];

let current = null; // the context of the view on screen

// newContext is what a view gets: alive() says whether it is still the
// view on screen; every and after run timers that stop when it is not;
// reset stops them when the view redraws itself.
function newContext() {
  const timers = new Set();
  const ctx = {
    alive: () => current === ctx,
    every(ms, fn) {
      const t = setInterval(() => { if (ctx.alive()) fn(); }, ms);
      timers.add(() => clearInterval(t));
    },
    after(ms, fn) {
      const t = setTimeout(() => { if (ctx.alive()) fn(); }, ms);
      timers.add(() => clearTimeout(t));
    },
    reset() {
      for (const stop of timers) stop();
      timers.clear();
    },
  };
  return ctx;
}

async function render(first) {
  current?.reset();
  const ctx = newContext();
  current = ctx;
  const raw = location.hash.slice(1) || '/';
  const [path, search = ''] = raw.split('?');
  const params = new URLSearchParams(search);
  markCurrent(path);
  refreshNav();
  const route = routes.find(([re]) => re.test(path));
  if (route) {
    try {
      await route[1](ctx, path.match(route[0]), params);
    } catch (err) {
      if (ctx.alive()) failure('Something went wrong', err);
    }
  } else {
    page('Page not found', h('p', {}, 'There is nothing here. ', h('a', {href: '#/'}, 'Browse the products')));
  }
  // Move the focus to the new view's heading, so keyboard and screen
  // reader users start reading there (not on the first load).
  if (ctx.alive() && !first) {
    const h1 = document.querySelector('#main h1');
    if (h1 && !document.getElementById('main').contains(document.activeElement)) {
      h1.setAttribute('tabindex', '-1');
      h1.focus();
    }
  }
}

window.addEventListener('hashchange', () => render(false));
window.addEventListener('storage', refreshNav);
document.getElementById('logout').addEventListener('click', logout);
// The skip link moves the focus without touching the URL's fragment, which
// is the router's.
document.querySelector('.skip').addEventListener('click', e => {
  e.preventDefault();
  document.getElementById('main').focus();
});
render(true);

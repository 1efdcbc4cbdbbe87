// The header: which links show for who is signed in, and the cart's count.

import {session, cartCount} from './state.js';

// refreshNav shows the header's links for the current session and cart.
export function refreshNav() {
  const s = session();
  const role = s?.user?.role;
  const shown = {
    anonymous: !s,
    'signed-in': !!s,
    admin: role === 'admin',
  };
  for (const el of document.querySelectorAll('[data-when]')) el.hidden = !shown[el.dataset.when];
  document.getElementById('who').textContent = s ? `Signed in as ${s.user.name || s.user.email}` : '';
  const n = cartCount();
  document.getElementById('nav-cart').textContent = n ? `Cart (${n})` : 'Cart';
}

// markCurrent marks the header link of the current route for assistive technology.
export function markCurrent(route) {
  for (const a of document.querySelectorAll('header nav a')) {
    const target = a.getAttribute('href').slice(1) || '/';
    if (target === route) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// Registering, logging in and out.

import {h, field, formError, showError, busy} from './dom.js';
import * as api from './api.js';
import {setSession, clearCart} from './state.js';
import {page, go, announce} from './ui.js';
import {refreshNav} from './nav.js';

// safeNext keeps a ?next= route only when it is one of ours.
function safeNext(next) {
  return next && /^\/[a-z]/.test(next) ? '#' + next : '#/';
}

// loginPage shows the login form; after it, the user goes to ?next=.
export function loginPage(ctx, params) {
  const next = safeNext(params.get('next'));
  const form = h('form', {class: 'narrow', novalidate: true, onsubmit: async e => {
    e.preventDefault();
    await busy(form, async () => {
      try {
        const res = await api.login(form.elements.email.value.trim(), form.elements.password.value);
        setSession(res);
        refreshNav();
        announce(`Signed in as ${res.user.name || res.user.email}`);
        go(next);
        return true;
      } catch (err) {
        showError(form, err);
      }
    });
  }},
  params.get('registered') ? h('p', {class: 'done', role: 'status'}, 'Your account is ready: log in.') : null,
  field({label: 'Email', name: 'email', type: 'email', value: params.get('email') || '', autocomplete: 'username', required: true, codes: 'invalid_email'}),
  field({label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, codes: 'invalid_password'}),
  formError(),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Log in')));
  page('Log in', form, h('p', {}, 'No account yet? ', h('a', {href: '#/register'}, 'Register')));
}

// registerPage shows the registration form, then the login form.
export function registerPage() {
  const form = h('form', {class: 'narrow', novalidate: true, onsubmit: async e => {
    e.preventDefault();
    await busy(form, async () => {
      const email = form.elements.email.value.trim();
      try {
        await api.register(email, form.elements.password.value, form.elements.name.value.trim());
        go('#/login' + api.query({registered: '1', email}));
        return true;
      } catch (err) {
        showError(form, err);
      }
    });
  }},
  field({label: 'Name', name: 'name', autocomplete: 'name', required: true, codes: 'invalid_name'}),
  field({label: 'Email', name: 'email', type: 'email', autocomplete: 'email', required: true, codes: 'invalid_email email_taken'}),
  field({label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password', required: true,
    hint: 'At least 8 characters.', codes: 'invalid_password'}),
  formError(),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Register')));
  page('Register', form, h('p', {}, 'Have an account? ', h('a', {href: '#/login'}, 'Log in')));
}

// logout forgets the session and the cart (the token stays valid until it
// expires: the shop has no revocation of single tokens).
export function logout() {
  setSession(null);
  clearCart();
  refreshNav();
  announce('Signed out');
  go('#/');
}

// requireLogin sends the user to the login form and back to route after.
export function requireLogin(route) {
  go('#/login' + api.query({next: route}));
}

// What every view shares: money, dates, the main area and the live status line.

import {h, replace} from './dom.js';
import {ApiError} from './api.js';

const digitsCache = new Map();

// digits is how many minor-unit digits a currency has (2 for USD, 0 for JPY).
export function digits(currency) {
  if (!digitsCache.has(currency)) {
    let d = 2;
    try {
      d = new Intl.NumberFormat('en', {style: 'currency', currency}).resolvedOptions().maximumFractionDigits;
    } catch {
      // not a currency Intl knows: show two digits
    }
    digitsCache.set(currency, d);
  }
  return digitsCache.get(currency);
}

// money formats an amount in minor units: money(1299, 'USD') is "$12.99".
export function money(amount, currency) {
  const d = digits(currency);
  const major = amount / 10 ** d;
  try {
    return new Intl.NumberFormat(undefined, {style: 'currency', currency, minimumFractionDigits: d, maximumFractionDigits: d}).format(major);
  } catch {
    return major.toFixed(d) + ' ' + currency;
  }
}

// parseMoney reads "12.99" in currency's units as minor units (1299), or
// returns null when the text is not such a number.
export function parseMoney(text, currency) {
  const d = digits(currency);
  const m = /^\s*(-?)(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!m || (m[3] || '').length > d) return null;
  const minor = Number(m[2]) * 10 ** d + Number((m[3] || '').padEnd(d, '0') || 0);
  return m[1] ? -minor : minor;
}

// majorUnits shows minor units as the text parseMoney reads back.
export function majorUnits(amount, currency) {
  const d = digits(currency);
  return (amount / 10 ** d).toFixed(d);
}

const dateFormat = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});

// when formats an RFC 3339 time for people.
export const when = iso => dateFormat.format(new Date(iso));

// countdown is "14:59" for ms milliseconds ("1:02:03" past an hour).
export function countdown(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

// stockText says how many units can be bought.
export function stockText(available) {
  if (available <= 0) return 'Out of stock';
  if (available <= 5) return `${available} left`;
  return `In stock: ${available}`;
}

// announce says msg to screen readers through the polite status line.
export function announce(msg) {
  const s = document.getElementById('status');
  s.textContent = '';
  setTimeout(() => { s.textContent = msg; }, 50);
}

// page shows a view: its title (also the document's) and its content.
export function page(title, ...content) {
  document.title = `${title} · kitshop`;
  const main = document.getElementById('main');
  replace(main, h('h1', {}, title), ...content);
  return main;
}

// failure shows an error that stopped a whole view from loading.
export function failure(title, err) {
  const msg = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  page(title, h('p', {class: 'error', role: 'alert'}, msg), h('p', {}, h('a', {href: '#/'}, 'Back to the products')));
}

// go navigates to a hash route ("#/cart").
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

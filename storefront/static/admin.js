// The admin view: add a product, change a price, add stock.

import {h, field, formError, showError, clearErrors, busy} from './dom.js';
import * as api from './api.js';
import {token, isAdmin, session} from './state.js';
import {money, parseMoney, majorUnits, stockText, page, failure, announce} from './ui.js';
import {forgetCategories} from './catalog.js';
import {requireLogin} from './account.js';

// allProducts pages through the catalogue (at most 1,000 products).
async function allProducts() {
  const items = [];
  let cursor = '';
  for (let i = 0; i < 10; i++) {
    const p = await api.products({limit: 100, cursor});
    items.push(...p.items);
    cursor = p.next_cursor;
    if (!cursor) break;
  }
  return items.sort((a, b) => a.name.localeCompare(b.name));
}

function done(form, msg) {
  const p = form.querySelector('.done');
  p.textContent = msg;
  announce(msg);
}

// adminPage shows the admin's forms; anyone else is told it is not theirs.
export async function adminPage(ctx) {
  if (!session()) return requireLogin('/admin');
  if (!isAdmin()) {
    page('Admin', h('p', {class: 'error', role: 'alert'}, 'This page is for the shop’s admin account.'));
    return;
  }
  let products;
  try {
    products = await allProducts();
  } catch (err) {
    if (ctx.alive()) failure('Admin', err);
    return;
  }
  if (!ctx.alive()) return;

  // Add a product.
  const add = h('form', {class: 'admin-form', novalidate: true, 'aria-labelledby': 'add-title', onsubmit: async e => {
    e.preventDefault();
    const f = add.elements;
    const currency = f.currency.value.trim().toUpperCase();
    const price = parseMoney(f.price.value, currency);
    if (price === null) {
      return showError(add, {code: 'invalid_price', message: `The price must be a number such as 12.99 (in ${currency || 'the currency'}).`});
    }
    await busy(add, async () => {
      try {
        const p = await api.createProduct(token(), {
          sku: f.sku.value.trim(), name: f.name.value.trim(), description: f.description.value.trim(),
          price, currency, category: f.category.value.trim(),
        });
        forgetCategories();
        add.reset();
        products.push(p);
        fillPicker(p.id);
        done(add, `Added ${p.name} at ${money(p.price, p.currency)}. Add its stock below.`);
      } catch (err) {
        showError(add, err);
      }
    });
  }},
  h('h2', {id: 'add-title'}, 'Add a product'),
  field({label: 'SKU', name: 'sku', required: true, hint: 'Letters, digits and dashes, such as PEN-001.', codes: 'invalid_sku sku_taken'}),
  field({label: 'Name', name: 'name', required: true, codes: 'invalid_name'}),
  field({label: 'Description', name: 'description', type: 'textarea', rows: '3', codes: 'invalid_description'}),
  h('div', {class: 'row'},
    field({label: 'Price', name: 'price', inputmode: 'decimal', required: true, hint: 'Such as 12.99', codes: 'invalid_price'}),
    field({label: 'Currency', name: 'currency', value: 'USD', maxlength: '3', required: true, codes: 'invalid_currency'})),
  field({label: 'Category', name: 'category', codes: 'invalid_category'}),
  formError(),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Add product')),
  h('p', {class: 'done', role: 'status'}));

  // Pick a product, then change its price or add stock.
  const picker = field({label: 'Product', name: 'product', options: []});
  const select = picker.querySelector('select');
  const current = h('p', {class: 'muted', id: 'current'});
  const selected = () => products.find(p => p.id === select.value);
  const showCurrent = async () => {
    const p = selected();
    if (!p) return;
    priceForm.elements.price.value = majorUnits(p.price, p.currency);
    current.textContent = `${p.name}: ${money(p.price, p.currency)}`;
    try {
      const s = await api.stock(p.id);
      if (selected() === p) current.textContent = `${p.name}: ${money(p.price, p.currency)}, ${stockText(s.available)} (on hand ${s.on_hand}, reserved ${s.reserved})`;
    } catch (err) {
      if (selected() === p) current.textContent = `${p.name}: ${money(p.price, p.currency)}, no stock yet`;
    }
  };
  const fillPicker = id => {
    select.replaceChildren(...products.map(p => h('option', {value: p.id}, `${p.name} (${p.sku})`)));
    if (id) select.value = id;
    showCurrent();
  };
  select.addEventListener('change', () => {
    clearErrors(priceForm);
    clearErrors(stockForm);
    showCurrent();
  });

  const priceForm = h('form', {class: 'admin-form', novalidate: true, 'aria-label': 'Change the price', onsubmit: async e => {
    e.preventDefault();
    const p = selected();
    if (!p) return;
    const price = parseMoney(priceForm.elements.price.value, p.currency);
    if (price === null) return showError(priceForm, {code: 'invalid_price', message: `The price must be a number such as 12.99 (in ${p.currency}).`});
    await busy(priceForm, async () => {
      try {
        const updated = await api.updateProduct(token(), p.id, {price});
        Object.assign(p, updated);
        done(priceForm, `${p.name} now costs ${money(p.price, p.currency)}.`);
        showCurrent();
      } catch (err) {
        showError(priceForm, err);
      }
    });
  }},
  field({label: 'New price', name: 'price', inputmode: 'decimal', required: true, codes: 'invalid_price empty_patch'}),
  formError(),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Change price')),
  h('p', {class: 'done', role: 'status'}));

  const stockForm = h('form', {class: 'admin-form', novalidate: true, 'aria-label': 'Add stock', onsubmit: async e => {
    e.preventDefault();
    const p = selected();
    if (!p) return;
    const n = Number(stockForm.elements.quantity.value);
    if (!Number.isInteger(n) || n < 1) return showError(stockForm, {code: 'invalid_quantity', message: 'The quantity must be a whole number of at least 1.'});
    await busy(stockForm, async () => {
      try {
        const s = await api.addStock(token(), p.id, n);
        stockForm.reset();
        done(stockForm, `Added ${n} units of ${p.name}: ${s.available} available.`);
        showCurrent();
      } catch (err) {
        showError(stockForm, err);
      }
    });
  }},
  field({label: 'Units to add', name: 'quantity', type: 'number', min: '1', step: '1', inputmode: 'numeric', required: true, codes: 'invalid_quantity'}),
  formError(),
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Add stock')),
  h('p', {class: 'done', role: 'status'}));

  page('Admin',
    h('section', {class: 'panel'}, add),
    h('section', {class: 'panel', 'aria-labelledby': 'manage-title'},
      h('h2', {id: 'manage-title'}, 'Change a product'),
      picker, current, priceForm, stockForm));
  fillPicker(products[0]?.id);
}

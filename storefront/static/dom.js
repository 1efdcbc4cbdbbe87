// Building the page from data without ever parsing it as HTML: every text
// the API sends goes in as a text node (h's string children) or an
// attribute value, never as markup.

// h makes an element: h('a', {href: '#/'}, 'Home', child, ...). Attributes
// named on* take a function (an event listener); class, for, hidden,
// disabled and the like are set as attributes; a false, null or undefined
// attribute is left out. Children are strings (text), numbers, nodes,
// arrays of them, or null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'value') {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// replace empties el and puts children in it.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;

// field makes a labelled form control: a label, the control, an optional
// hint and an error line the control is described by. opts: label, name,
// type, value, required, hint, codes (the API error codes that belong to
// this field, space separated), options (for a select: [{value, label}]),
// and any other attributes for the control.
export function field(opts) {
  const {label, hint, codes, options, ...attrs} = opts;
  const id = 'f' + (++fieldSeq);
  const errId = id + '-err';
  const hintId = hint ? id + '-hint' : null;
  const control = options
    ? h('select', {id, ...attrs}, options.map(o => h('option', {value: o.value, selected: String(o.value) === String(attrs.value ?? '')}, o.label)))
    : h(attrs.type === 'textarea' ? 'textarea' : 'input', {id, ...attrs, type: attrs.type === 'textarea' ? null : (attrs.type || 'text')});
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  if (codes) control.dataset.codes = codes;
  return h('div', {class: 'field'},
    h('label', {for: id}, label),
    control,
    hint ? h('p', {class: 'hint', id: hintId}, hint) : null,
    h('p', {class: 'error', id: errId, 'data-error-for': attrs.name, hidden: true}));
}

// formError makes the line where a form shows an error that no field owns.
export function formError() {
  return h('p', {class: 'error form-error', role: 'alert', hidden: true});
}

// clearErrors hides every error, and every earlier success message, of form.
export function clearErrors(form) {
  for (const p of form.querySelectorAll('.error')) {
    p.textContent = '';
    p.hidden = true;
  }
  for (const p of form.querySelectorAll('.done')) p.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

// showError shows err (an ApiError or any Error) in form: next to the
// field whose data-codes name the error's code, else on the form's own
// error line. The field is marked invalid and focused.
export function showError(form, err) {
  clearErrors(form);
  const code = err.code || '';
  const control = code && [...form.querySelectorAll('[data-codes]')]
    .find(c => c.dataset.codes.split(' ').includes(code));
  let line = control && form.querySelector(`[data-error-for="${control.name}"]`);
  if (!line) line = form.querySelector('.form-error');
  line.textContent = err.message;
  line.hidden = false;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    line.setAttribute('role', 'alert');
    control.focus();
  }
}

// busy clears form's messages and disables its buttons while fn runs, so
// a second click cannot send a second request. When fn returns true the
// form's work is done for good (the view is about to change) and its
// buttons stay disabled: a double click that outlives the first request
// sends nothing more.
export async function busy(form, fn) {
  clearErrors(form);
  const buttons = [...form.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  form.setAttribute('aria-busy', 'true');
  let finished = false;
  try {
    finished = (await fn()) === true;
  } finally {
    form.removeAttribute('aria-busy');
    if (!finished) for (const b of buttons) b.disabled = false;
  }
}

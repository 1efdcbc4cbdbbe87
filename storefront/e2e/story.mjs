// The storefront's story in a real browser: register, log in, search, page,
// fill a cart, order with a double click (one order), pay with a declined
// and then a good card, see the stock go down, cancel another order, read
// the history, and as the admin add products (one named like an HTML
// injection), change a price and add stock, then find them in the shop.
// It saves screenshots of the main views at desktop and phone widths.
//
//	node story.mjs <base URL> <screenshot dir>
//
// The shop must have the admin account of E2E_ADMIN_EMAIL and
// E2E_ADMIN_PASSWORD (default admin@example.com, admin-password-1) and its
// sample products. CHROMIUM_PATH names the browser (default
// /usr/bin/chromium, Debian's). Exit status 0 when every step held.

import {chromium} from 'playwright-core';
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

const [baseArg, shotDir] = process.argv.slice(2);
if (!baseArg || !shotDir) {
  console.error('usage: node story.mjs <base URL> <screenshot dir>');
  process.exit(2);
}
const base = baseArg.replace(/\/$/, '');
const origin = new URL(base).origin;
const adminEmail = process.env.E2E_ADMIN_EMAIL || 'admin@example.com';
const adminPassword = process.env.E2E_ADMIN_PASSWORD || 'admin-password-1';
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const run = Date.now().toString(36);
const customer = {name: 'Ada Lovelace', email: `ada-${run}@example.com`, password: 'correct horse battery'};
const XSS = '<img src=x onerror=alert(1)>';
const XSS_DESCRIPTION = '<script>alert(2)</script><b>not bold</b>';
mkdirSync(shotDir, {recursive: true});

// What the pages must never do, collected from every page and checked at the end.
const problems = [];

function fail(msg) {
  throw new Error(msg);
}

async function eventually(what, fn, timeout = 15000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) fail(`${what}${last ? `: ${last.message}` : ''}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

// expectText waits until locator's text contains want (a string or RegExp).
async function expectText(locator, want, timeout) {
  let seen = '';
  try {
    await eventually('', async () => {
      seen = (await locator.first().textContent({timeout: 1000})) ?? '';
      return typeof want === 'string' ? seen.includes(want) : want.test(seen);
    }, timeout);
  } catch {
    fail(`expected ${want} in ${locator}, saw ${JSON.stringify(seen)}`);
  }
}

async function heading(page, name) {
  await page.getByRole('heading', {level: 1, name}).waitFor();
}

let step = 0;
async function section(name, fn) {
  step++;
  const t = Date.now();
  try {
    await fn();
  } catch (e) {
    e.message = `step ${step} (${name}): ${e.message}`;
    throw e;
  }
  console.log(`ok ${step} ${name} (${Date.now() - t} ms)`);
}

async function shot(page, name) {
  const file = join(shotDir, name + '.png');
  await page.screenshot({path: file, fullPage: true});
  console.log(`   screenshot ${file}`);
}

// checkView asserts what every view must hold: each form control has a
// label, each button a name, nothing is wider than the window.
async function checkView(page, view) {
  const bad = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden') continue;
      if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) out.push('unlabelled ' + el.outerHTML.slice(0, 80));
    }
    for (const b of document.querySelectorAll('button')) {
      if (!b.hidden && !(b.textContent.trim() || b.getAttribute('aria-label'))) out.push('nameless button');
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      out.push(`page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
    }
    return out;
  });
  if (bad.length) fail(`${view}: ${bad.join('; ')}`);
}

function watch(page) {
  page.setDefaultTimeout(15000);
  page.on('dialog', d => {
    problems.push(`a dialog opened: ${d.type()} ${JSON.stringify(d.message())}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', e => problems.push(`script error: ${e.message}`));
  page.on('console', m => {
    // A failed API answer logs "Failed to load resource"; the page shows
    // those itself. Anything else (a CSP violation, an exception) counts.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });
  page.on('request', r => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== origin) problems.push(`request to another origin: ${r.url()}`);
  });
}

async function productCards(page) {
  await page.locator('#main ul.grid, #main p.empty').first().waitFor();
  return page.locator('#main .card h2').allTextContents();
}

async function search(page, q, category = '') {
  await page.getByLabel('Search', { exact: true }).fill(q);
  await page.getByLabel('Category').selectOption(category);
  await page.getByRole('button', {name: 'Search'}).click();
}

async function stockOf(page) {
  const text = await page.locator('#stock').textContent();
  const m = /(\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

async function openProduct(page, name) {
  await page.goto(base + '/#/' + '?q=' + encodeURIComponent(name));
  await page.getByRole('link', {name, exact: true}).first().click();
  await heading(page, name);
  await page.locator('#stock').waitFor();
}

async function login(page, email, password) {
  await page.goto(base + '/#/login');
  await heading(page, 'Log in');
  await page.getByLabel('Email', {exact: true}).fill(email);
  await page.getByLabel('Password', {exact: true}).fill(password);
  await page.getByRole('button', {name: 'Log in'}).click();
  await page.getByRole('button', {name: 'Log out'}).waitFor();
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let exitCode = 0;
try {
  const desktop = await browser.newContext({viewport: {width: 1280, height: 800}, locale: 'en-US', timezoneId: 'UTC'});
  const page = await desktop.newPage();
  watch(page);
  const orderPosts = [];
  page.on('request', r => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/orders') orderPosts.push(r.headers()['idempotency-key'] || '');
  });

  await section('the product list', async () => {
    await page.goto(base + '/');
    await heading(page, 'Products');
    const names = await productCards(page);
    if (!names.includes('Gopher Mug')) fail(`no Gopher Mug among ${names}`);
    await checkView(page, 'products');
    await shot(page, 'desktop-products');
  });

  await section('keyboard: skip link, then a product by Tab and Enter', async () => {
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement.textContent);
    if (first !== 'Skip to content') fail(`the first Tab stop is ${JSON.stringify(first)}, want the skip link`);
    await page.keyboard.press('Enter');
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      const inCard = await page.evaluate(() => !!document.activeElement.closest('.card h2'));
      if (inCard) break;
    }
    const name = await page.evaluate(() => document.activeElement.textContent);
    await page.keyboard.press('Enter');
    await heading(page, name);
    const focused = await page.evaluate(() => document.activeElement.tagName);
    if (focused !== 'H1') fail(`after opening a product the focus is on ${focused}, want its heading`);
  });

  await section('register (an invalid email first)', async () => {
    await page.getByRole('link', {name: 'Register', exact: true}).click();
    await heading(page, 'Register');
    await checkView(page, 'register');
    await page.getByLabel('Name').fill(customer.name);
    await page.getByLabel('Email', {exact: true}).fill('not-an-email');
    await page.getByLabel('Password', {exact: true}).fill(customer.password);
    await page.getByRole('button', {name: 'Register'}).click();
    await expectText(page.locator('[data-error-for="email"]'), 'email must be');
    if (await page.getByLabel('Email', {exact: true}).getAttribute('aria-invalid') !== 'true') fail('the email field is not marked invalid');
    await shot(page, 'desktop-register-error');
    await page.getByLabel('Email', {exact: true}).fill(customer.email);
    await page.getByRole('button', {name: 'Register'}).click();
    await heading(page, 'Log in');
    await expectText(page.locator('#main'), 'Your account is ready');
  });

  await section('log in (a wrong password first), by keyboard', async () => {
    const email = page.getByLabel('Email', {exact: true});
    if (await email.inputValue() !== customer.email) fail('the login form does not hold the new email');
    await page.getByLabel('Password', {exact: true}).fill('wrong password');
    await page.getByRole('button', {name: 'Log in'}).click();
    await expectText(page.locator('.form-error'), 'the email or password is wrong');
    await page.getByLabel('Password', {exact: true}).fill('');
    await page.getByLabel('Password', {exact: true}).focus();
    await page.keyboard.type(customer.password);
    await page.keyboard.press('Enter');
    await page.getByRole('button', {name: 'Log out'}).waitFor();
    await expectText(page.locator('#who'), customer.name);
    if (await page.getByRole('link', {name: 'Admin', exact: true}).isVisible()) fail('a customer sees the admin link');
  });

  await section('search by name and by category', async () => {
    await page.getByRole('link', {name: 'Products', exact: true}).click();
    await heading(page, 'Products');
    await search(page, 'mug');
    await eventually('search "mug" shows only the mug', async () => JSON.stringify(await productCards(page)) === '["Gopher Mug"]');
    await search(page, '', 'apparel');
    await eventually('category apparel shows three products', async () => (await productCards(page)).length === 3);
    const cats = await page.locator('#main .card .category').allTextContents();
    if (cats.some(c => c !== 'apparel')) fail(`category filter shows ${cats}`);
    await search(page, 'zzz-nothing');
    await expectText(page.locator('#main .empty'), 'No products');
  });

  await section('paging two at a time', async () => {
    await page.goto(base + '/#/?limit=2');
    await heading(page, 'Products');
    // The heading can show before the page's products do (or while the last
    // view's are still there): wait for a page of exactly two.
    await eventually('page 1', async () => (await productCards(page)).length === 2);
    const p1 = await productCards(page);
    await page.getByRole('link', {name: 'Next →'}).click();
    await eventually('page 2', async () => JSON.stringify(await productCards(page)) !== JSON.stringify(p1));
    const p2 = await productCards(page);
    await page.getByRole('link', {name: 'Next →'}).click();
    await eventually('page 3', async () => JSON.stringify(await productCards(page)) !== JSON.stringify(p2));
    const p3 = await productCards(page);
    const all = [...p1, ...p2, ...p3];
    if (p1.length !== 2 || p2.length !== 2 || new Set(all).size !== all.length) fail(`pages ${p1} | ${p2} | ${p3}`);
    await page.getByRole('link', {name: '← Previous'}).click();
    await eventually('back to page 2', async () => JSON.stringify(await productCards(page)) === JSON.stringify(p2));
  });

  let mugStock, stickerStock;
  await section('a product page with price and stock; fill the cart', async () => {
    await openProduct(page, 'Gopher Mug');
    await expectText(page.locator('#main .price'), '$12.99');
    mugStock = await stockOf(page);
    if (!(mugStock > 5)) fail(`mug stock ${mugStock}`);
    await expectText(page.locator('#stock'), `In stock: ${mugStock}`);
    await checkView(page, 'product');
    await shot(page, 'desktop-product');
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', {name: 'Add to cart'}).click();
    await expectText(page.locator('#main .done'), 'Added 2 × Gopher Mug');
    await expectText(page.locator('#nav-cart'), 'Cart (2)');

    await openProduct(page, 'Sticker Pack');
    stickerStock = await stockOf(page);
    await page.goto(base + '/#/');
    await heading(page, 'Products');
    await page.getByRole('button', {name: 'Add Sticker Pack to the cart'}).click();
    await page.getByRole('button', {name: 'Add Circuit Breaker Cap to the cart'}).click();
    await expectText(page.locator('#nav-cart'), 'Cart (4)');
  });

  await section('the cart: remove a line, change a quantity, the total', async () => {
    await page.locator('#nav-cart').click();
    await heading(page, 'Cart');
    if (await page.locator('.line').count() !== 3) fail('the cart does not have three lines');
    await page.getByRole('button', {name: 'Remove Circuit Breaker Cap'}).click();
    await eventually('two lines left', async () => await page.locator('.line').count() === 2);
    await expectText(page.locator('.total-amount'), '$30.97');
    await page.getByLabel('Quantity of Sticker Pack').fill('2');
    await page.keyboard.press('Tab');
    await expectText(page.locator('.total-amount'), '$35.96');
    await expectText(page.locator('#nav-cart'), 'Cart (4)');
    await checkView(page, 'cart');
    await shot(page, 'desktop-cart');
  });

  let firstOrder;
  await section('place the order: a lost answer, then a retry with the same key, one order', async () => {
    // The first POST reaches the shop, which makes the order, but its
    // answer is lost on the way back; the retry must get the same order.
    let lost = false;
    await page.route('**/orders', async route => {
      if (route.request().method() !== 'POST' || lost) return route.continue();
      lost = true;
      await route.fetch();
      await route.abort('connectionreset');
    });
    await page.getByRole('button', {name: 'Place order'}).click();
    await expectText(page.locator('.checkout .form-error'), 'cannot be reached');
    await page.unroute('**/orders');
    await page.getByRole('button', {name: 'Place order'}).dblclick();
    await page.getByRole('heading', {level: 1, name: /^Order /}).waitFor();
    firstOrder = (await page.locator('h1').textContent()).replace('Order ', '');
    await expectText(page.locator('#main .status'), 'Awaiting payment');
    await expectText(page.locator('#main .expiry'), /Expires in \d+:\d\d/);
    await expectText(page.locator('.order-total'), '$35.96');
    if (orderPosts.length !== 2 || new Set(orderPosts).size !== 1 || !orderPosts[0]) {
      fail(`POST /orders sent with Idempotency-Keys ${JSON.stringify(orderPosts)}, want the same key twice`);
    }
    if ((await page.locator('#nav-cart').textContent()) !== 'Cart') fail('the cart is not empty after the order');
  });

  await section('pay: a declined card, then the test card', async () => {
    const card = page.getByLabel('Card number');
    await card.fill('4000 0000 0000 0002');
    await page.getByRole('button', {name: 'Pay $35.96'}).click();
    await expectText(page.locator('[data-error-for="card_number"]'), 'declined');
    if (await card.getAttribute('aria-invalid') !== 'true') fail('the card field is not marked invalid');
    await expectText(page.locator('.history'), 'card declined');
    await checkView(page, 'order');
    await shot(page, 'desktop-order-declined');
    await card.fill('4242 4242 4242 4242');
    await page.getByRole('button', {name: 'Pay $35.96'}).click();
    await expectText(page.locator('#main .status'), 'Paid');
    await expectText(page.locator('#main .done'), 'the order is paid');
    await shot(page, 'desktop-order-paid');
  });

  await section('the stock went down', async () => {
    await openProduct(page, 'Gopher Mug');
    await expectText(page.locator('#stock'), `In stock: ${mugStock - 2}`);
    await openProduct(page, 'Sticker Pack');
    await expectText(page.locator('#stock'), `In stock: ${stickerStock - 2}`);
  });

  await section('cancel another order: its stock comes back', async () => {
    await page.getByLabel('Quantity').fill('3');
    await page.getByRole('button', {name: 'Add to cart'}).click();
    await page.locator('#nav-cart').click();
    await heading(page, 'Cart');
    const before = orderPosts.length;
    await page.getByRole('button', {name: 'Place order'}).dblclick();
    await page.getByRole('heading', {level: 1, name: /^Order /}).waitFor();
    await page.waitForTimeout(300); // time for a second request, if the double click sent one
    if (orderPosts.length !== before + 1) fail(`a double click sent ${orderPosts.length - before} orders`);
    await openProduct(page, 'Sticker Pack');
    await expectText(page.locator('#stock'), `In stock: ${stickerStock - 5}`);
    await page.getByRole('link', {name: 'Orders', exact: true}).click();
    await heading(page, 'Your orders');
    if (await page.locator('.order').count() !== 2) fail('the history does not hold two orders');
    await page.locator('.order').first().getByRole('link').click();
    await page.getByRole('button', {name: 'Cancel order'}).click();
    await expectText(page.locator('#main .status'), 'Cancelled');
    await openProduct(page, 'Sticker Pack');
    await expectText(page.locator('#stock'), `In stock: ${stickerStock - 2}`, 20000);
  });

  await section('the order history', async () => {
    await page.getByRole('link', {name: 'Orders', exact: true}).click();
    await heading(page, 'Your orders');
    const orders = await page.locator('.order').allTextContents();
    if (orders.length !== 2) fail(`${orders.length} orders in the history, want 2 (the double click made one)`);
    if (!orders[0].includes('Cancelled') || !orders[1].includes('Paid') || !orders[1].includes(firstOrder)) {
      fail(`history ${JSON.stringify(orders)}`);
    }
    await checkView(page, 'orders');
    await shot(page, 'desktop-orders');
  });

  await section('log out', async () => {
    await page.getByRole('button', {name: 'Log out'}).click();
    await page.getByRole('link', {name: 'Log in', exact: true}).waitFor();
    if (await page.getByRole('link', {name: 'Orders', exact: true}).isVisible()) fail('the orders link shows after logging out');
    const stored = await page.evaluate(() => sessionStorage.getItem('kitshop.session'));
    if (stored) fail('the token is still stored after logging out');
  });

  const sku = `PEN-${run}`.toUpperCase();
  await section('admin: add products, a taken SKU, change a price, add stock', async () => {
    await login(page, adminEmail, adminPassword);
    await page.getByRole('link', {name: 'Admin', exact: true}).click();
    await heading(page, 'Admin');
    await checkView(page, 'admin');
    const add = page.locator('form[aria-labelledby="add-title"]');
    const fillProduct = async (p) => {
      await add.getByLabel('SKU').fill(p.sku);
      await add.getByLabel('Name').fill(p.name);
      await add.getByLabel('Description').fill(p.description);
      await add.getByLabel('Price').fill(p.price);
      await add.getByLabel('Currency').fill('USD');
      await add.getByLabel('Category').fill(p.category);
      await add.getByRole('button', {name: 'Add product'}).click();
    };
    await fillProduct({sku, name: 'Gopher Pen', description: 'Blue ink.', price: '2.99', category: 'stationery'});
    await expectText(add.locator('.done'), 'Added Gopher Pen at $2.99');
    await fillProduct({sku, name: 'Another Pen', description: '', price: '1', category: 'stationery'});
    await expectText(add.locator('[data-error-for="sku"]'), /\S/);
    if (await add.getByLabel('SKU').getAttribute('aria-invalid') !== 'true') fail('the SKU field is not marked invalid');
    await shot(page, 'desktop-admin-sku-taken');
    await fillProduct({sku: `XSS-${run}`.toUpperCase(), name: XSS, description: XSS_DESCRIPTION, price: '1.00', category: 'stationery'});
    await expectText(add.locator('.done'), `Added ${XSS}`);

    await page.getByLabel('Product', {exact: true}).selectOption({label: `Gopher Pen (${sku})`});
    await page.getByLabel('New price').fill('3.49');
    await page.getByRole('button', {name: 'Change price'}).click();
    await expectText(page.locator('#main'), 'Gopher Pen now costs $3.49.');
    await page.getByLabel('Units to add').fill('5');
    await page.getByRole('button', {name: 'Add stock'}).click();
    await expectText(page.locator('#main'), 'Added 5 units of Gopher Pen: 5 available.');
    await expectText(page.locator('#current'), '5 left');
    await shot(page, 'desktop-admin');
  });

  await section('the new product appears, with its price and stock', async () => {
    await page.getByRole('link', {name: 'Products', exact: true}).click();
    await heading(page, 'Products');
    await search(page, 'Gopher Pen');
    await eventually('the pen is listed', async () => (await productCards(page)).includes('Gopher Pen'));
    await expectText(page.locator('.card .price'), '$3.49');
    const cats = await page.getByLabel('Category').locator('option').allTextContents();
    if (!cats.includes('stationery')) fail(`categories ${cats}`);
    await openProduct(page, 'Gopher Pen');
    await expectText(page.locator('#stock'), '5 left');
  });

  await section('a product named like HTML shows as text', async () => {
    await page.goto(base + '/#/?q=' + encodeURIComponent('<img'));
    await eventually('the injection product is listed', async () => (await productCards(page)).includes(XSS));
    await shot(page, 'desktop-xss-list');
    await page.getByRole('link', {name: XSS, exact: true}).first().click();
    await heading(page, XSS);
    await expectText(page.locator('#main .description'), XSS_DESCRIPTION);
    const injected = await page.evaluate(() => document.querySelectorAll('img, #main script, #main b').length);
    if (injected) fail(`${injected} elements came from the product's name or description`);
    await page.waitForTimeout(500); // an onerror handler would have run by now
    await shot(page, 'desktop-xss-product');
    await expectText(page.locator('#stock'), 'Out of stock');
    if (await page.getByRole('button', {name: 'Add to cart'}).isEnabled()) fail('a product without stock can be added to the cart');
    await page.getByRole('button', {name: 'Log out'}).click();
  });
  await desktop.close();

  const phone = await browser.newContext({viewport: {width: 375, height: 812}, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US', timezoneId: 'UTC'});
  const mobile = await phone.newPage();
  watch(mobile);
  await section('phone width: every view fits and reads', async () => {
    await mobile.goto(base + '/');
    await heading(mobile, 'Products');
    await checkView(mobile, 'phone products');
    await shot(mobile, 'phone-products');
    await mobile.goto(base + '/#/login');
    await heading(mobile, 'Log in');
    await checkView(mobile, 'phone login');
    await shot(mobile, 'phone-login');
    await login(mobile, customer.email, customer.password);
    await openProduct(mobile, 'Gopher Mug');
    await checkView(mobile, 'phone product');
    await shot(mobile, 'phone-product');
    await mobile.getByRole('button', {name: 'Add to cart'}).click();
    await openProduct(mobile, 'Microservices Hoodie');
    await mobile.getByRole('button', {name: 'Add to cart'}).click();
    await mobile.locator('#nav-cart').click();
    await heading(mobile, 'Cart');
    await checkView(mobile, 'phone cart');
    await shot(mobile, 'phone-cart');
    await mobile.getByRole('button', {name: 'Place order'}).click();
    await mobile.getByRole('heading', {level: 1, name: /^Order /}).waitFor();
    await expectText(mobile.locator('#main .expiry'), /Expires in/);
    await checkView(mobile, 'phone order');
    await shot(mobile, 'phone-order');
    await mobile.getByRole('link', {name: 'Orders', exact: true}).click();
    await heading(mobile, 'Your orders');
    await checkView(mobile, 'phone orders');
    await shot(mobile, 'phone-orders');
  });
  await phone.close();

  if (problems.length) fail(`the pages misbehaved:\n  ${problems.join('\n  ')}`);
  console.log(`story: all ${step} steps held`);
} catch (e) {
  console.error(`FAIL ${e.message}`);
  if (problems.length) console.error(`also:\n  ${problems.join('\n  ')}`);
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { total } = require('../src/cart');
const { summary } = require('../src/checkout');

const items = [
  { priceCents: 1000, quantity: 2 },
  { priceCents: 333, quantity: 1 },
];

test('no tax by default', () => {
  assert.equal(total(items), 2333);
  assert.equal(total(items, {}), 2333);
});

test('tax rate, rounded to cents', () => {
  assert.equal(total(items, { taxRate: 0.2 }), 2800);
  assert.equal(total(items, { taxRate: 0.075 }), 2508);
});

test('checkout passes the order tax rate', () => {
  assert.deepEqual(summary({ items, taxRate: 0.1 }), { count: 3, totalCents: 2566 });
  assert.deepEqual(summary({ items }), { count: 3, totalCents: 2333 });
});

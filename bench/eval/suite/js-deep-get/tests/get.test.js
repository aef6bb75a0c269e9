'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { get, has } = require('../src/get');

const data = { user: { name: 'Ann', tags: ['a', 'b'], orders: [{ id: 7, lines: [{ sku: 'x' }] }] }, zero: 0, nothing: null };

test('dotted paths still work', () => {
  assert.equal(get(data, 'user.name'), 'Ann');
  assert.equal(get(data, 'zero', 5), 0);
  assert.equal(get(data, 'nothing', 5), null);
});

test('array indexes', () => {
  assert.equal(get(data, 'user.tags[1]'), 'b');
  assert.equal(get(data, 'user.orders[0].lines[0].sku'), 'x');
  assert.equal(get(data, 'user.tags.0'), 'a');
});

test('missing steps give the fallback instead of throwing', () => {
  assert.equal(get(data, 'user.address.city', 'n/a'), 'n/a');
  assert.equal(get(data, 'nothing.deeper', 'n/a'), 'n/a');
  assert.equal(get(data, 'user.orders[5].id'), undefined);
  assert.equal(has(data, 'user.address.city'), false);
});

test('path as an array of keys', () => {
  assert.equal(get(data, ['user', 'orders', 0, 'id']), 7);
  assert.equal(get(data, ['user', 'x.y'], 'd'), 'd');
});

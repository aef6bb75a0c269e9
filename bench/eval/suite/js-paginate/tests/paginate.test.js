'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { paginate } = require('../lib/paginate');
const { renderTable } = require('../lib/table');

const items = Array.from({ length: 25 }, (_, i) => i);

test('pages start at 1', () => {
  assert.deepEqual(paginate(items, 1), { items: items.slice(0, 10), page: 1, totalPages: 3 });
  assert.deepEqual(paginate(items, 2, 10).items, items.slice(10, 20));
});

test('last partial page counts', () => {
  assert.deepEqual(paginate(items, 3), { items: [20, 21, 22, 23, 24], page: 3, totalPages: 3 });
  assert.equal(paginate(items, 1, 5).totalPages, 5);
});

test('out-of-range pages are clamped', () => {
  assert.equal(paginate(items, 9).page, 3);
  assert.deepEqual(paginate(items, 9).items, [20, 21, 22, 23, 24]);
  assert.equal(paginate(items, 0).page, 1);
  assert.equal(paginate(items, -2).page, 1);
});

test('empty list has one empty page', () => {
  assert.deepEqual(paginate([], 1), { items: [], page: 1, totalPages: 1 });
});

test('table footer', () => {
  const rows = Array.from({ length: 7 }, (_, i) => [i, `row ${i}`]);
  assert.deepEqual(renderTable(rows, 2, 5), { rows: ['5 | row 5', '6 | row 6'], footer: 'Page 2 of 2' });
});

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { groupBy, countBy } = require('../src/collections');

const people = [
  { name: 'ann', city: 'Oslo', age: 31 },
  { name: 'bob', city: 'Rome', age: 17 },
  { name: 'cid', city: 'Oslo', age: 45 },
  { name: 'dee', age: 12 },
];

test('by property name', () => {
  const groups = groupBy(people, 'city');
  assert.deepEqual(Object.keys(groups).sort(), ['Oslo', 'Rome']);
  assert.deepEqual(groups.Oslo.map((p) => p.name), ['ann', 'cid']);
});

test('by function', () => {
  const groups = groupBy(people, (p) => (p.age >= 18 ? 'adult' : 'minor'));
  assert.deepEqual(groups.adult.map((p) => p.name), ['ann', 'cid']);
  assert.deepEqual(groups.minor.map((p) => p.name), ['bob', 'dee']);
});

test('undefined keys are left out', () => {
  assert.equal('undefined' in groupBy(people, 'city'), false);
  assert.deepEqual(countBy(people, 'city'), { Oslo: 2, Rome: 1 });
});

test('countBy with a function', () => {
  assert.deepEqual(countBy(['a', 'bb', 'cc', 'd'], (s) => s.length), { 1: 2, 2: 2 });
});

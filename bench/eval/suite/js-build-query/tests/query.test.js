'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { buildQuery, withQuery } = require('../src/query');
const { SearchClient } = require('../src/client');

test('plain values', () => {
  assert.equal(buildQuery({ page: 2, q: 'x' }), 'page=2&q=x');
  assert.equal(buildQuery({}), '');
});

test('encoding', () => {
  assert.equal(buildQuery({ q: 'a b&c=d' }), 'q=a%20b%26c%3Dd');
  assert.equal(buildQuery({ 'sort by': 'ü' }), 'sort%20by=%C3%BC');
});

test('null and undefined are skipped, 0 and false are not', () => {
  assert.equal(buildQuery({ a: 1, b: null, c: undefined, d: 0, e: false }), 'a=1&d=0&e=false');
});

test('arrays repeat the key', () => {
  assert.equal(buildQuery({ tags: ['x', 'y z'] }), 'tags=x&tags=y%20z');
});

test('client urls', () => {
  const client = new SearchClient('https://api.test');
  assert.equal(client.searchUrl('red shoes'), 'https://api.test/search?q=red%20shoes');
  assert.equal(
    client.searchUrl('a', { page: 3, tags: ['new', 'sale'] }),
    'https://api.test/search?q=a&page=3&tags=new&tags=sale',
  );
  assert.equal(withQuery('/x?y=1', { z: 2 }), '/x?y=1&z=2');
});

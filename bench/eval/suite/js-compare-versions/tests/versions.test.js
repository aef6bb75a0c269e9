'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { compareVersions, latest, sortVersions } = require('../src/versions');

test('numeric parts', () => {
  assert.equal(compareVersions('1.10.0', '1.9.0'), 1);
  assert.equal(compareVersions('1.9.0', '1.10.0'), -1);
  assert.equal(compareVersions('2.0.0', '10.0.0'), -1);
});

test('missing parts are zero', () => {
  assert.equal(compareVersions('1.2', '1.2.0'), 0);
  assert.equal(compareVersions('1.2.0.1', '1.2'), 1);
});

test('leading v ignored', () => {
  assert.equal(compareVersions('v1.2.3', '1.2.3'), 0);
  assert.equal(compareVersions('v2', 'v1.99'), 1);
});

test('latest and sort', () => {
  assert.equal(latest(['1.2.0', '1.10.1', '1.9.9']), '1.10.1');
  assert.deepEqual(sortVersions(['1.10', '1.2', 'v1.9.1', '0.9']), ['0.9', '1.2', 'v1.9.1', '1.10']);
});

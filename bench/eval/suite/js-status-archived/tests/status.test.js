'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Status, parseStatus } = require('../src/status');
const { labelFor, badgeColor } = require('../src/labels');

test('archived status', () => {
  assert.equal(Status.ARCHIVED, 'archived');
  assert.equal(parseStatus(' Archived '), 'archived');
});

test('archived label and badge', () => {
  assert.equal(labelFor(Status.ARCHIVED), 'Archived');
  assert.equal(badgeColor(Status.ARCHIVED), 'grey');
});

test('others unchanged', () => {
  assert.deepEqual([Status.OPEN, Status.CLOSED].map(labelFor), ['Open', 'Closed']);
  assert.deepEqual([Status.OPEN, Status.CLOSED].map(badgeColor), ['green', 'red']);
  assert.throws(() => parseStatus('deleted'), /unknown status/);
  assert.ok(Object.isFrozen(Status));
});

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { toCamelCase, toKebabCase } = require('../src/case');
const { configFromEnv } = require('../src/config');

test('simple words', () => {
  assert.equal(toCamelCase('foo-bar'), 'fooBar');
  assert.equal(toCamelCase('foo_bar baz'), 'fooBarBaz');
});

test('repeated, leading and trailing separators', () => {
  assert.equal(toCamelCase('foo--bar'), 'fooBar');
  assert.equal(toCamelCase('_private_key_'), 'privateKey');
  assert.equal(toCamelCase('  spaced   out '), 'spacedOut');
  assert.equal(toCamelCase('---'), '');
});

test('capitals are lower-cased first', () => {
  assert.equal(toCamelCase('FOO_BAR'), 'fooBar');
  assert.equal(toCamelCase('Hello World'), 'helloWorld');
});

test('config keys', () => {
  assert.deepEqual(configFromEnv({ APP_LOG_LEVEL: 'debug', APP_PORT: '80', HOME: '/' }), {
    logLevel: 'debug',
    port: '80',
  });
});

test('kebab unchanged', () => {
  assert.equal(toKebabCase('fooBarBaz'), 'foo-bar-baz');
});

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { withRetry } = require('../src/retry');
const { fetchJson } = require('../src/fetcher');

function flaky(failures, value) {
  const calls = { n: 0 };
  const fn = async () => {
    calls.n += 1;
    if (calls.n <= failures) throw new Error(`fail ${calls.n}`);
    return value;
  };
  return { fn, calls };
}

test('rejected promises are retried', async () => {
  const { fn, calls } = flaky(2, 'ok');
  assert.equal(await withRetry(fn, 3), 'ok');
  assert.equal(calls.n, 3);
});

test('the last error is thrown after all attempts', async () => {
  const { fn, calls } = flaky(10, 'ok');
  await assert.rejects(withRetry(fn, 4), /fail 4/);
  assert.equal(calls.n, 4);
});

test('synchronous throws are retried too', async () => {
  let n = 0;
  const value = await withRetry(() => {
    n += 1;
    if (n < 2) throw new Error('sync');
    return 'fine';
  });
  assert.equal(value, 'fine');
});

test('delay between attempts', async () => {
  const { fn, calls } = flaky(1, 7);
  assert.equal(await withRetry(fn, 2, 5), 7);
  assert.equal(calls.n, 2);
});

test('fetchJson', async () => {
  const { fn } = flaky(1, '{"a":1}');
  assert.deepEqual(await fetchJson(fn, '/x'), { a: 1 });
});

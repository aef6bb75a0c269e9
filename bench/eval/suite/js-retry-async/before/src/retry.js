'use strict';

/** Call fn until it succeeds, at most `attempts` times; the last error is thrown. */
async function withRetry(fn, attempts = 3) {
  for (let i = 0; i < attempts; i++) {
    try {
      return fn();
    } catch (err) {
      if (i === attempts - 1) throw err;
    }
  }
}

module.exports = { withRetry };

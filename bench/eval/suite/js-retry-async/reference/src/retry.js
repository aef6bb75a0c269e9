'use strict';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Call fn until it succeeds, at most `attempts` times, waiting `delayMs` between attempts;
 * the last error is thrown. */
async function withRetry(fn, attempts = 3, delayMs = 0) {
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i === attempts - 1) throw err;
      if (delayMs > 0) await sleep(delayMs);
    }
  }
}

module.exports = { withRetry };

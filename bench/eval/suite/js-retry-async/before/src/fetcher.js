'use strict';

const { withRetry } = require('./retry');

/** Fetch JSON with retries (the inventory service times out now and then). */
async function fetchJson(get, url) {
  const response = await withRetry(() => get(url), 3);
  return JSON.parse(response);
}

module.exports = { fetchJson };

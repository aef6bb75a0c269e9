'use strict';

/** { page: 2, q: 'x' } -> 'page=2&q=x' */
function buildQuery(params) {
  const pairs = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      pairs.push(encodeURIComponent(key) + '=' + encodeURIComponent(v));
    }
  }
  return pairs.join('&');
}

/** The URL with the query appended ('?' or '&' as needed). */
function withQuery(url, params) {
  const query = buildQuery(params);
  if (!query) return url;
  return url + (url.includes('?') ? '&' : '?') + query;
}

module.exports = { buildQuery, withQuery };

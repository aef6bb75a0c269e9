'use strict';

/** { page: 2, q: 'x' } -> 'page=2&q=x' */
function buildQuery(params) {
  return Object.keys(params)
    .map((key) => key + '=' + params[key])
    .join('&');
}

/** The URL with the query appended ('?' or '&' as needed). */
function withQuery(url, params) {
  const query = buildQuery(params);
  if (!query) return url;
  return url + (url.includes('?') ? '&' : '?') + query;
}

module.exports = { buildQuery, withQuery };

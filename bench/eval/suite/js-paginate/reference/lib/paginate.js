'use strict';

/**
 * One page of a list for the table view.
 * @returns {{items: any[], page: number, totalPages: number}}
 */
function paginate(items, page, perPage = 10) {
  const totalPages = Math.max(1, Math.ceil(items.length / perPage));
  const current = Math.min(Math.max(1, page), totalPages);
  const start = (current - 1) * perPage;
  return {
    items: items.slice(start, start + perPage),
    page: current,
    totalPages,
  };
}

module.exports = { paginate };

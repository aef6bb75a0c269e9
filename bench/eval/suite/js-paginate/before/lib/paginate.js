'use strict';

/**
 * One page of a list for the table view.
 * @returns {{items: any[], page: number, totalPages: number}}
 */
function paginate(items, page, perPage = 10) {
  const start = page * perPage;
  return {
    items: items.slice(start, start + perPage),
    page,
    totalPages: Math.floor(items.length / perPage),
  };
}

module.exports = { paginate };

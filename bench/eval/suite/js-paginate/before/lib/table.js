'use strict';

const { paginate } = require('./paginate');

/** The rows and the 'Page 2 of 5' footer of one page of the table. */
function renderTable(rows, page, perPage) {
  const view = paginate(rows, page, perPage);
  return {
    rows: view.items.map((row) => row.join(' | ')),
    footer: `Page ${view.page} of ${view.totalPages}`,
  };
}

module.exports = { renderTable };

'use strict';

const format = require('./format');

/** Entries as CSV for the payroll import. */
function toCsv(entries) {
  const rows = entries.map((e) => `${format.formatDate(e.start)},${e.minutes},${e.project}`);
  return ['date,minutes,project', ...rows].join('\n');
}

module.exports = { toCsv };

'use strict';

const pad = (n) => String(n).padStart(2, '0');

/** A Date as 'YYYY-MM-DD' (UTC). */
function fmtDate(date) {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** Minutes as 'H:MM'. */
function formatMinutes(minutes) {
  return `${Math.floor(minutes / 60)}:${pad(minutes % 60)}`;
}

module.exports = { fmtDate, formatMinutes };

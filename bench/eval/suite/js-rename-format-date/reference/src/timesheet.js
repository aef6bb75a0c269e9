'use strict';

const { formatDate, formatMinutes } = require('./format');

/** One line per day: '2024-03-01  7:30'. */
function timesheetLines(entries) {
  const byDay = new Map();
  for (const { start, minutes } of entries) {
    const day = formatDate(start);
    byDay.set(day, (byDay.get(day) || 0) + minutes);
  }
  return [...byDay].sort().map(([day, minutes]) => `${day}  ${formatMinutes(minutes)}`);
}

module.exports = { timesheetLines };

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const format = require('../src/format');
const { timesheetLines } = require('../src/timesheet');
const { toCsv } = require('../src/export');

const entries = [
  { start: new Date(Date.UTC(2024, 2, 1, 9)), minutes: 240, project: 'a' },
  { start: new Date(Date.UTC(2024, 2, 1, 14)), minutes: 210, project: 'b' },
  { start: new Date(Date.UTC(2024, 1, 29, 9)), minutes: 65, project: 'a' },
];

test('formatDate replaces fmtDate', () => {
  assert.equal(format.formatDate(new Date(Date.UTC(2024, 0, 5))), '2024-01-05');
  assert.equal(format.fmtDate, undefined);
});

test('callers use the new name', () => {
  assert.deepEqual(timesheetLines(entries), ['2024-02-29  1:05', '2024-03-01  7:30']);
  assert.equal(toCsv(entries.slice(2)), 'date,minutes,project\n2024-02-29,65,a');
});

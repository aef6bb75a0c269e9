'use strict';

/** Items grouped by the value of a property: groupBy(people, 'city'). */
function groupBy(items, key) {
  const groups = {};
  for (const item of items) {
    const k = item[key];
    if (!groups[k]) groups[k] = [];
    groups[k].push(item);
  }
  return groups;
}

/** How many items have each value of the key. */
function countBy(items, key) {
  const counts = {};
  for (const [k, group] of Object.entries(groupBy(items, key))) {
    counts[k] = group.length;
  }
  return counts;
}

module.exports = { groupBy, countBy };

'use strict';

/** Items grouped by the value of a property, groupBy(people, 'city'), or of a function of
 * the item, groupBy(people, (p) => p.age >= 18). Items whose key is undefined are left out. */
function groupBy(items, key) {
  const keyOf = typeof key === 'function' ? key : (item) => item[key];
  const groups = {};
  for (const item of items) {
    const k = keyOf(item);
    if (k === undefined) continue;
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

'use strict';

/**
 * The value at a dotted path in a nested object: get({ a: { b: 1 } }, 'a.b') -> 1.
 */
function get(obj, path, fallback) {
  let current = obj;
  for (const key of path.split('.')) {
    current = current[key];
  }
  return current;
}

/** Whether the path leads to a value (not undefined). */
function has(obj, path) {
  return get(obj, path) !== undefined;
}

module.exports = { get, has };

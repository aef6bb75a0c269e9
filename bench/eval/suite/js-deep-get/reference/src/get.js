'use strict';

/**
 * The value at a dotted path in a nested object: get({ a: { b: 1 } }, 'a.b') -> 1.
 */
function get(obj, path, fallback) {
  const keys = Array.isArray(path)
    ? path
    : path
        .replace(/\[(\d+)\]/g, '.$1')
        .split('.')
        .filter((key) => key !== '');
  let current = obj;
  for (const key of keys) {
    if (current === null || current === undefined) return fallback;
    current = current[key];
  }
  return current === undefined ? fallback : current;
}

/** Whether the path leads to a value (not undefined). */
function has(obj, path) {
  return get(obj, path) !== undefined;
}

module.exports = { get, has };

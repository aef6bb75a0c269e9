'use strict';

/** 'foo-bar' -> 'fooBar' */
function toCamelCase(text) {
  const parts = text.split(/[-_ ]/);
  return parts[0] + parts.slice(1).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
}

/** 'fooBar' -> 'foo-bar' */
function toKebabCase(text) {
  return text.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

module.exports = { toCamelCase, toKebabCase };

'use strict';

/** 'foo-bar' -> 'fooBar' */
function toCamelCase(text) {
  const words = text
    .split(/[-_\s]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  if (words.length === 0) return '';
  return words[0] + words.slice(1).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

/** 'fooBar' -> 'foo-bar' */
function toKebabCase(text) {
  return text.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

module.exports = { toCamelCase, toKebabCase };

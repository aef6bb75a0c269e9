'use strict';

/** -1, 0 or 1 as version a is older than, the same as, or newer than b. */
function compareVersions(a, b) {
  if (a === b) return 0;
  return a > b ? 1 : -1;
}

/** The newest of a list of versions. */
function latest(versions) {
  return versions.reduce((best, v) => (compareVersions(v, best) > 0 ? v : best));
}

/** Versions sorted oldest first. */
function sortVersions(versions) {
  return [...versions].sort(compareVersions);
}

module.exports = { compareVersions, latest, sortVersions };

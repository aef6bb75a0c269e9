'use strict';

/** -1, 0 or 1 as version a is older than, the same as, or newer than b. */
function compareVersions(a, b) {
  const parts = (v) => v.trim().replace(/^v/i, '').split('.').map(Number);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] || 0;
    const y = pb[i] || 0;
    if (x !== y) return x > y ? 1 : -1;
  }
  return 0;
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

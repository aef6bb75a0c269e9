'use strict';

const { toCamelCase } = require('./case');

/** APP_ settings from the environment as an object: APP_LOG_LEVEL -> { logLevel }. */
function configFromEnv(env, prefix = 'APP_') {
  const config = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(prefix)) {
      config[toCamelCase(key.slice(prefix.length))] = value;
    }
  }
  return config;
}

module.exports = { configFromEnv };

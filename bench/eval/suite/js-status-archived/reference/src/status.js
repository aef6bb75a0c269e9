'use strict';

const Status = Object.freeze({
  OPEN: 'open',
  CLOSED: 'closed',
  ARCHIVED: 'archived',
});

/** A status from user input ('Open', ' closed '). */
function parseStatus(text) {
  const value = text.trim().toLowerCase();
  if (!Object.values(Status).includes(value)) {
    throw new Error(`unknown status: ${text}`);
  }
  return value;
}

module.exports = { Status, parseStatus };

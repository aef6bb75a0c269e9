'use strict';

const { Status } = require('./status');

function labelFor(status) {
  switch (status) {
    case Status.OPEN:
      return 'Open';
    case Status.CLOSED:
      return 'Closed';
    default:
      throw new Error(`no label for ${status}`);
  }
}

function badgeColor(status) {
  switch (status) {
    case Status.OPEN:
      return 'green';
    case Status.CLOSED:
      return 'red';
    default:
      throw new Error(`no colour for ${status}`);
  }
}

module.exports = { labelFor, badgeColor };

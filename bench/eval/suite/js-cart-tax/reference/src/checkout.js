'use strict';

const { total } = require('./cart');

/** The order summary shown on the payment page. */
function summary(order) {
  return {
    count: order.items.reduce((n, item) => n + item.quantity, 0),
    totalCents: total(order.items, { taxRate: order.taxRate }),
  };
}

module.exports = { summary };

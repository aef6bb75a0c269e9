'use strict';

/** Sum of price * quantity, in cents. */
function subtotal(items) {
  return items.reduce((sum, item) => sum + item.priceCents * item.quantity, 0);
}

/** What the customer pays, in cents: the subtotal plus tax at `taxRate`, rounded. */
function total(items, { taxRate = 0 } = {}) {
  const net = subtotal(items);
  return Math.round(net * (1 + taxRate));
}

module.exports = { subtotal, total };

'use strict';

/** Sum of price * quantity, in cents. */
function subtotal(items) {
  return items.reduce((sum, item) => sum + item.priceCents * item.quantity, 0);
}

/** What the customer pays, in cents. */
function total(items) {
  return subtotal(items);
}

module.exports = { subtotal, total };

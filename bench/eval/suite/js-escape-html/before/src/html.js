'use strict';

/** Text made safe to put in HTML. */
function escapeHtml(text) {
  return text.replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/&/g, '&amp;');
}

module.exports = { escapeHtml };

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { escapeHtml } = require('../src/html');
const { renderThread } = require('../src/render');

test('no double escaping', () => {
  assert.equal(escapeHtml('<b>'), '&lt;b&gt;');
  assert.equal(escapeHtml('fish & chips'), 'fish &amp; chips');
  assert.equal(escapeHtml('&lt;'), '&amp;lt;');
});

test('quotes', () => {
  assert.equal(escapeHtml(`"hi" it's`), '&quot;hi&quot; it&#39;s');
});

test('non-strings', () => {
  assert.equal(escapeHtml(42), '42');
  assert.equal(escapeHtml(null), 'null');
});

test('thread', () => {
  const html = renderThread([{ author: 'Eve "the" <hacker>', votes: 3, body: 'a<script>' }]);
  assert.equal(
    html,
    '<ul><li class="comment" title="Eve &quot;the&quot; &lt;hacker&gt;"><b>Eve &quot;the&quot; &lt;hacker&gt;</b> (3): a&lt;script&gt;</li></ul>',
  );
});

'use strict';

const { escapeHtml } = require('./html');

function renderComment(comment) {
  return (
    `<li class="comment" title="${escapeHtml(comment.author)}">` +
    `<b>${escapeHtml(comment.author)}</b> (${escapeHtml(comment.votes)}): ${escapeHtml(comment.body)}</li>`
  );
}

function renderThread(comments) {
  return `<ul>${comments.map(renderComment).join('')}</ul>`;
}

module.exports = { renderComment, renderThread };

'use strict';

const { withQuery } = require('./query');

class SearchClient {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  searchUrl(text, { page, tags } = {}) {
    return withQuery(`${this.baseUrl}/search`, { q: text, page, tags });
  }
}

module.exports = { SearchClient };

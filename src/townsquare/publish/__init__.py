"""Publishing: what Townsquare gives back to the world, from the store.

- ``feeds``: Atom 1.0, RSS 2.0 and JSON Feed 1.1 for the river, each
  category and each blog.
- ``opml``: OPML 2.0 lists of the blogs, grouped by category.
- ``static_site``: ``townsquare build``, the public site as files: the
  feeds and lists, and (``site_pages``) every page of the website, rendered
  by the website's own code.
- ``paths``: where each of these lives under the site's base URL.
- ``document``: a rendered file and its Content-Type.
- ``xmlout``: writing XML with lxml.

Everything here reads ``Post`` and ``Source`` values the store gives; their
HTML is already clean, so nothing here sanitises again.  Text is escaped by
the serialiser (lxml for XML, ``json`` for JSON), never by hand.
"""

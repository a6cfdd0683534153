"""Telling readers about new posts: email digests (and, later, WebSub)."""

"""Curation: what the curator does, apart from the web pages that let them do it.

Accounts and passwords, blog health and its weekly email, checking
suggestions from the public, deciding the moderation queue, and email.
"""

"""The admin area (``/admin``): the curator's pages, behind a sign-in.

``context.py`` holds what every handler stands on (the session, the CSRF
check, the audit log); each other module is one part of the area.
"""

"""WebSub both ways: real-time feeds in and out (W3C WebSub Recommendation).

protocol.py    the rules as pure functions: signatures, leases, retries, forms
subscriber.py  our subscriptions to blogs' hubs; the callback's answers
hub.py         Townsquare as the hub of its own feeds, or telling another hub
service.py     the background work: ``WebSub(store, config).run(stop)``

The website answers the hubs and subscribers (``web/websub.py``): the
callback at ``/websub/callback/<key>`` and our hub at ``/websub/hub``.
"""

from .service import WebSub

__all__ = ["WebSub"]

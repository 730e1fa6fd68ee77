"""Graph API building blocks used by :class:`partnership_ads.hooks.PartnershipAdsHook`.

Each module is free of Airflow and of network I/O so it can be unit-tested on its own:

- :mod:`.fields`: the ``fields`` syntax (``content_id,author{display_name}``) from a string or a nested
structure.
- :mod:`.params`: validation and rendering of discovery filters, lookups and paging parameters.
- :mod:`.errors`: ``GraphAPIError`` and its subclasses, and the classification of every answer.
- :mod:`.usage`: the rate-limit usage headers.
- :mod:`.retry`: backoff, throttle waits and slowdown.
- :mod:`.auth`: ``appsecret_proof`` and where the token travels.
- :mod:`.settings`: the ``meta_graph`` connection's settings, validated.
- :mod:`.partition`: the date-window split of partitioned discovery.
"""

from __future__ import annotations

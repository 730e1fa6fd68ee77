"""The Graph API parts of :class:`partnership_ads.hooks.PartnershipAdsHook`.

Building blocks, free of Airflow and of network I/O so that each can be unit-tested on its own:

- :mod:`.defaults`: the ``meta_graph`` connection's defaults (also read by the connection form).
- :mod:`.settings`: the ``meta_graph`` connection's settings, validated.
- :mod:`.fields`: the ``fields`` syntax (``content_id,author{display_name}``) from a string or a nested
  structure.
- :mod:`.params`: validation and rendering of discovery filters, lookups and paging parameters.
- :mod:`.errors`: ``GraphAPIError`` and its subclasses, and the classification of every answer.
- :mod:`.usage`: the rate-limit usage headers.
- :mod:`.retry`: backoff, throttle waits and slowdown.
- :mod:`.pacing`: the pause every thread of one hook honours (throttling, backoff, slowdown).
- :mod:`.auth`: ``appsecret_proof`` and where the token travels.
- :mod:`.partition`: the date-window split of partitioned discovery, and the merge of the windows' pages.

The HTTP side, :mod:`.session`: the hook's ``requests`` session, one request, and what its answer tells.

Endpoint families, one module each, exposed by the hook and calling Graph through its one request path
(``hook.request``: credentials, retries, pacing):

- :mod:`.discovery`: the discovery walk (sequential or partitioned), lookups, and ``DiscoveryScope``
  (``hook.discovery``).
- :mod:`.ad_codes`: creating and deleting partnership ad codes, with the outcome-unknown rule
  (``hook.ad_codes``).
- :mod:`.ads`: ad accounts, ad sets, partnership ad creatives and ads, found by deterministic name, with the
  same rule (``hook.ads``).
"""

from __future__ import annotations

"""The pipeline's default connection ids, in a module with no imports.

The one definition of each id: the operators need them as argument defaults when a DAG file is parsed, so
they live here rather than in the modules that use them (the hook, the ledger, the sinks, the run plan), which
import them from here.
"""

from __future__ import annotations

#: A brand's Graph API connection (type ``meta_graph``; password = the brand's token).
DEFAULT_META_CONN_ID = "meta_graph_default"
#: The ledger's SQL connection (only when it is absent on a single machine: a SQLite file under AIRFLOW_HOME).
DEFAULT_LEDGER_CONN_ID = "partnership_ads_db"
#: The webhook sink's HTTP connection (host = the receiver's URL, password = the signing secret).
DEFAULT_WEBHOOK_CONN_ID = "partnership_ads_webhook"
#: Prefix of a creator's own connection: ``meta_graph_creator_<author ig_user_id>``.
CREATOR_CONN_PREFIX = "meta_graph_creator_"

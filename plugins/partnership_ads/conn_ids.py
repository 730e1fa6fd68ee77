"""Default connection ids of the pipeline, in a module with no imports.

The operators need these as argument defaults when a DAG file is parsed; defining them here lets the
operator modules skip importing the ledger and the sinks at parse time. The modules that own them
(``partnership_ads.ledger``, ``partnership_ads.sinks.webhook``, ``partnership_ads.operators.issue``)
re-export them under the same names.
"""

from __future__ import annotations

#: The ledger's SQL connection (a SQLite file under AIRFLOW_HOME when it does not exist).
DEFAULT_LEDGER_CONN_ID = "partnership_ads_db"
#: The webhook sink's HTTP connection (host = the receiver's URL, password = the signing secret).
DEFAULT_WEBHOOK_CONN_ID = "partnership_ads_webhook"
#: Prefix of a creator's own connection: ``meta_graph_creator_<author ig_user_id>``.
CREATOR_CONN_PREFIX = "meta_graph_creator_"

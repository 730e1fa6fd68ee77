"""Registers the project's Airflow plugin: the "Partnership ad codes" page (Browse menu).

Airflow imports every module of the plugins folder looking for ``AirflowPlugin`` subclasses; this one adds
the page's FastAPI app (served by the api-server under ``/partnership-ads``) and its navigation entry, shown
in the UI inside a frame. Hooks and operators need no plugin: they are plain modules of ``partnership_ads``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from partnership_ads.ui.app import app

#: Where the api-server mounts the page (also the navigation entry's frame address).
URL_PREFIX = "/partnership-ads"


class PartnershipAdsPlugin(AirflowPlugin):
    """The partnership ad codes page: overview, daily chart, codes table with CSV, item history."""

    name = "partnership_ads"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Partnership ad codes"}]
    external_views = [
        {
            "name": "Partnership ad codes",
            "href": f"{URL_PREFIX}/",
            "url_route": "partnership-ad-codes",
            "destination": "nav",
            "category": "browse",
        }
    ]

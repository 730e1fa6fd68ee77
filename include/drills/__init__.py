"""Fault drills: run the real pipeline against the graph sandbox with faults, crashes, bad input and outages,
then check the sandbox's own record against the ledger and every sink (see the README's drills section).

- :mod:`include.drills.dagrun`: ``airflow dags test`` with short retry delays.
- :mod:`include.drills.harness`: the drill environment (sandbox, connections, Airflow home) and DAG runs.
- :mod:`include.drills.audit`: expected items, and the sandbox vs ledger vs sinks comparison.
- :mod:`include.drills.results`: the per-drill result files under ``.demo/drills/``.
- :mod:`include.drills.report`: ``python -m include.drills.report`` prints the drill table.
- :mod:`include.drills.secrets`: the secret scan.
"""

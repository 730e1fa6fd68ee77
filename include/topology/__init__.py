"""The production topology without Docker (``python -m include.topology up|down|status``).

:mod:`include.topology.services` declares the services (shared with the compose consistency tests),
:mod:`include.topology.native` starts and stops them as processes.
"""

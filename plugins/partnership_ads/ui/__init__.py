"""The "Partnership ad codes" plugin page: ``app`` (routes and auth), ``chart`` (SVG), ``templates/``."""

"""Benchmarks: the pipeline measured against the network bound and against a hand-written script.

Run with ``make bench`` (``python -m include.bench``); see the README's Benchmarks section.
"""

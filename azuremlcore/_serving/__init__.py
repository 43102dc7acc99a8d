"""Machinery behind local web services: model staging, the scoring server process, Docker packages."""

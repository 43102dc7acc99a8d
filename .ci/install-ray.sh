#!/usr/bin/env bash
# Installs Ray (the `ray` extra: ray[default], ~300 MB) into the test venv, for the Ray suite
# (tests/test_ray_cluster.py starts its own two-node cluster on loopback and stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
make .venv/.installed-stamp
.venv/bin/python -m pip install -q -e '.[ray]'
.venv/bin/ray --version

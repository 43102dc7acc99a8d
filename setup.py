"""Shim so that tools which still call setup.py (old pip, editable installs) work; metadata is in setup.cfg."""
from setuptools import setup

setup()

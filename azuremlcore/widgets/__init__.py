"""Notebook widgets (``azureml.widgets``): ``RunDetails(run).show()`` shows a run live in Jupyter.

The live widget needs ipywidgets (``pip install 'amlcore-open[notebook]'``); without it a static
HTML snapshot is shown. ipywidgets is imported only when a widget is shown.
"""
from __future__ import annotations

from azuremlcore.widgets.run_details import RunDetails

__all__ = ["RunDetails"]

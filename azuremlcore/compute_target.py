"""``azureml.core.compute_target``: where notebooks import ``ComputeTargetException`` from.

Re-exports the compute classes of :mod:`azuremlcore.compute`.
"""
from __future__ import annotations

from azuremlcore.compute import AmlCompute, ComputeInstance, ComputeTarget
from azuremlcore.exceptions import ComputeTargetException

__all__ = ["AmlCompute", "ComputeInstance", "ComputeTarget", "ComputeTargetException"]

"""Integer bounds of the database's columns, shared by the workspace API's and the MLflow API's request models.

Its own module so that the MLflow API's models (loaded before the server listens) need not load the
workspace API's (loaded with the FastAPI part, later).
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
#: Integers the database holds (BIGINT); larger ones are refused up front instead of overflowing a driver.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]

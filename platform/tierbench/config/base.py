"""The strict base of every configuration class, and the types they share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

TaskType = Literal["regression", "classification"]
"""What a target asks for: a number, or a binary class (0/1)."""


class StrictModel(BaseModel):
    """A frozen configuration that rejects unknown keys: a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

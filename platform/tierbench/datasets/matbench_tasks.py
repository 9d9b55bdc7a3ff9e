"""The structure tasks of Matbench v0.1: target column, unit, task type and size.

Composition-only tasks (``matbench_expt_gap``, ``matbench_expt_is_metal``, ``matbench_glass``,
``matbench_steels``) have no structures, so no tier can build a graph for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierbench.config.base import TaskType
from tierbench.datasets import units

MATBENCH_FOLD_SEED = 18012019
"""``random_state`` of matbench's 5-fold protocol (``scripts/mvb01_generate_validation.py``)."""

MATBENCH_FOLDS = 5


@dataclass(frozen=True)
class MatbenchTask:
    """One matbench task file.

    Attributes:
        target: The target column of the file.
        unit: Its unit.
        task_type: ``regression`` or ``classification``.
        size: Rows in the file.
    """

    target: str
    unit: str
    task_type: TaskType
    size: int


MATBENCH_STRUCTURE_TASKS = {
    "matbench_mp_gap": MatbenchTask("gap pbe", units.EV, "regression", 106113),
    "matbench_mp_is_metal": MatbenchTask("is_metal", units.LABEL, "classification", 106113),
    "matbench_mp_e_form": MatbenchTask("e_form", units.EV_PER_ATOM, "regression", 132752),
    "matbench_perovskites": MatbenchTask("e_form", units.EV_PER_CELL, "regression", 18928),
    "matbench_log_gvrh": MatbenchTask("log10(G_VRH)", units.LOG10_GPA, "regression", 10987),
    "matbench_log_kvrh": MatbenchTask("log10(K_VRH)", units.LOG10_GPA, "regression", 10987),
    "matbench_dielectric": MatbenchTask("n", units.DIMENSIONLESS, "regression", 4764),
    "matbench_jdft2d": MatbenchTask("exfoliation_en", units.MEV_PER_ATOM, "regression", 636),
    "matbench_phonons": MatbenchTask("last phdos peak", units.INVERSE_CM, "regression", 1265),
}

MATBENCH_COMPOSITION_TASKS = ("matbench_expt_gap", "matbench_expt_is_metal", "matbench_glass", "matbench_steels")

"""Materials Project style JSON-lines: one crystal per line.

Each line is an object with an id field, a ``structure`` and scalar labels::

    {"id": 1, "mp_id": "mp-1000", "band_gap": 1.593, ..., "structure":
        {"lattice": [[...], [...], [...]], "species": ["Ba", "Te"], "frac_coords": [[0, 0, 0], [0.5, 0.5, 0.5]]}}

``structure`` may also be a pymatgen ``Structure.as_dict()`` payload. Numeric and boolean fields are
targets (``null`` means missing); string fields go to ``Sample.meta``. Units of the usual Materials
Project fields are known (:data:`tierbench.datasets.units.MATERIALS_PROJECT_UNITS`); others come from
the spec's ``units``. The file may be gzip, bz2 or xz compressed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tierbench.config.dataset import DatasetSpec
from tierbench.datasets import units
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.source import SourceData, read_text
from tierbench.datasets.table import SiteArrays, TableBuilder
from tierbench.errors import InvalidStructureError, Reason

DEFAULT_ID_KEY = "id"
STRUCTURE_KEY = "structure"


def _sites(payload: Any) -> SiteArrays:
    if not isinstance(payload, dict):
        raise InvalidStructureError(
            f"'{STRUCTURE_KEY}' is {type(payload).__name__}, not an object", reason=Reason.UNPARSEABLE
        )
    if "sites" in payload:
        return SiteArrays.from_pymatgen_dict(payload)
    return SiteArrays.from_lists(payload["species"], payload["frac_coords"], payload["lattice"])


def _is_target_value(value: Any) -> bool:
    return value is None or isinstance(value, int | float | bool)


def read_mp_jsonl(path: Path | None, spec: DatasetSpec) -> SourceData:
    """Read a JSON-lines file of crystals (see the module docstring).

    Args:
        path: The ``.jsonl`` file (optionally compressed).
        spec: ``id_key`` names the id field (default ``id``).
    """
    if path is None:
        raise ValueError("mp_jsonl needs a path")
    id_key = spec.id_key or DEFAULT_ID_KEY
    builder = TableBuilder(periodic=True)
    report = QuarantineReport()
    for index, line in enumerate(read_text(path).splitlines()):
        if not line.strip():
            continue
        sample_id: str | None = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"a JSON {type(record).__name__}, not an object")
            if record.get(id_key) is None:
                raise KeyError(f"no {id_key!r} field")
            sample_id = str(record[id_key])
            sites = _sites(record.get(STRUCTURE_KEY))
            fields = {key: value for key, value in record.items() if key not in (id_key, STRUCTURE_KEY)}
            targets = {key: value for key, value in fields.items() if _is_target_value(value) and key != "id"}
            meta = {key: value for key, value in fields.items() if key not in targets}
            builder.add(index, sample_id, sites, targets, meta)
        except InvalidStructureError as error:
            report.add(index, sample_id, InvalidStructureError(f"line {index + 1}: {error}", reason=error.reason))
        except (ValueError, KeyError, TypeError, IndexError) as error:
            report.add(index, sample_id, InvalidStructureError(f"line {index + 1}: {error}", reason=Reason.UNPARSEABLE))
    table, hints = builder.build()
    known = {name: unit for name, unit in units.MATERIALS_PROJECT_UNITS.items() if name in table.targets}
    return SourceData(table, report, known, hints, str(path))

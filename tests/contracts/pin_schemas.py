"""Rewrites the pinned event schemas: run it only when a contract change is intended.

    .venv/bin/python tests/contracts/pin_schemas.py
"""
import importlib
import json
import pkgutil
from pathlib import Path

import services
from services.events import CONTRACTS

for info in pkgutil.walk_packages(services.__path__, "services."):
    if info.name.endswith(".events"):
        importlib.import_module(info.name)
target = Path(__file__).parent / "event_schemas"
target.mkdir(exist_ok=True)
for event_type, model in CONTRACTS.items():
    (target / f"{event_type}.json").write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
print(f"pinned {len(CONTRACTS)} event schemas in {target}")

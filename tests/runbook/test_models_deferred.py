"""The runbook's models build their validators on first use, never as they are imported: the wizard opens its
session (unpickling a cached model) without paying for them."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_models_and_the_engine_builds_no_validator() -> None:
    code = (
        "import sys, inspect\n"
        "import pydantic\n"
        "import amxwizard.runbook.models as m, amxwizard.engine.session, amxwizard.engine.steps\n"
        "built = [n for n, c in vars(m).items() if inspect.isclass(c) and issubclass(c, pydantic.BaseModel)\n"
        "         and c is not pydantic.BaseModel and c.__pydantic_complete__]\n"
        "print(' '.join(built) or '-')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.split() == ["-"], f"validators built at import: {done.stdout.strip()}"


def test_a_default_made_by_a_factory_is_still_the_default() -> None:
    from amxwizard.runbook.models import ChecklistItem, ManualCheck, Trigger, Troubleshooting

    item = ChecklistItem.model_validate({"id": "x", "text": "a thing"})
    assert item.check == ManualCheck(kind="manual")
    entry = Troubleshooting.model_validate({"id": "t", "symptom": "it breaks", "solution": "mend it"})
    assert entry.when == Trigger()

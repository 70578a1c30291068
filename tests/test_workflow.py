"""The CI workflow that publishes proofs is valid, and runs only commands the test suite runs too."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "proofs.yml"
# the scripts/book commands the suite itself runs (test_proof.py and test_cli.py)
TESTED = {"codes", "check", "proof", "all"}


def test_workflow_matches_the_github_schema():
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(tool).exists():
        pytest.fail("check-jsonschema is not installed (pip install -e '.[test]')")
    done = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_runs_tested_commands_with_full_history():
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = flow["jobs"]["proof"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    commands = re.findall(r"scripts/book (\w+)", "\n".join(s.get("run", "") for s in steps))
    assert set(commands) == TESTED
    assert "check --strict --format json" in "\n".join(s.get("run", "") for s in steps)
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and s["with"]["path"] == "build/proof"
               for s in steps)
    assert "GITHUB_STEP_SUMMARY" in WORKFLOW.read_text(encoding="utf-8")

"""The CLI's exit codes are documented where users look (README, `--help`), and every
invocation stays cheap: importing the CLI loads no Kafka, gRPC, PyFlink or database client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from services import exit_codes

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("confluent_kafka", "grpc", "pyflink", "pymongo", "qdrant_client", "fastavro", "rich")


def test_the_readme_exit_code_table_is_the_scheme() -> None:
    """It fails when a code is added to services/exit_codes.py and not to the README's table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| exit code | meaning |") :].split("\n\n", 1)[0]
    listed = [int(code) for code in re.findall(r"^\| (\d) \|", table, re.M)]
    codes = [exit_codes.OK, exit_codes.FAILED, exit_codes.USAGE, exit_codes.UNAVAILABLE]
    assert listed == codes
    for code in codes:
        assert f"{code} " in exit_codes.HELP


def test_importing_the_cli_loads_nothing_heavy() -> None:
    """Every command (and every completion request) imports all command modules: keep them light."""
    code = "import json, sys, services.cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []

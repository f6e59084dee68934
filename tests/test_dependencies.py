"""What the product imports: the test and benchmark libraries stay out of it."""
from __future__ import annotations

import subprocess
import sys

from tests.servers import ROOT


def test_the_product_does_not_import_pysal():
    """esda and libpysal are the tests' reference for Gi*, not the product's: importing every
    door (the CLI, the HTTP app) and the algorithms loads neither."""
    code = ("import sys, api.cli, api.http.app, planning.partition, planning.hotspots, planning.faults, "
            "planning.opportunities, planning.kpi; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('esda', 'libpysal', 'pytest')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout

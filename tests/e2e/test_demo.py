"""The README's first command: the demo must pass on this machine, as it is
the first thing a new user runs."""

import os
import subprocess

from mcgtest import REPO_ROOT


def test_demo_passes():
    result = subprocess.run([os.path.join(REPO_ROOT, "tests", "demo.sh")], capture_output=True,
                            text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "demo: all" in result.stdout
    assert "checks passed" in result.stdout

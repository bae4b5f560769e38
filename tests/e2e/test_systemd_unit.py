"""dist/poshta.service: systemd accepts it (systemd-analyze verify, with
ExecStart pointed at the binary under test) and rates its sandbox as a
well-confined service (systemd-analyze security, offline), and it keeps
the promises the README makes of it: an unprivileged user from the start,
no capability but binding low ports, no way to gain privileges, the data
directory the only place it may write."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import POSHTA_BIN

UNIT = pathlib.Path(__file__).resolve().parents[2] / "dist" / "poshta.service"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")


def unit_for_test(tmp_path):
    """The unit with ExecStart on the binary under test (verify checks that it exists)."""
    text = UNIT.read_text().replace("/usr/local/bin/poshta", os.path.abspath(POSHTA_BIN))
    path = tmp_path / "poshta.service"
    path.write_text(text)
    return path


def settings():
    out = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_accepts_the_unit(tmp_path):
    r = subprocess.run(["systemd-analyze", "verify", str(unit_for_test(tmp_path))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "poshta.service" not in r.stderr, r.stderr   # no warning about this unit


def test_the_sandbox_is_rated_safe(tmp_path):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit_for_test(tmp_path))],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for poshta\.service: (\d+\.\d+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) < 2.5, r.stdout   # systemd's "OK" band; an unconfined service rates 9.6


def test_least_privilege_settings():
    s = settings()
    assert s["User"] == ["poshta"] and s["Group"] == ["poshta"]
    assert s["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert s["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["ReadWritePaths"] == ["/var/lib/poshta"]
    assert s["StateDirectory"] == ["poshta"]
    assert s["PrivateTmp"] == ["yes"]
    assert s["ExecStart"][0].startswith("/usr/local/bin/poshta serve")

"""scripts/setup.sh: installs what is missing once, then stays quiet, fast and offline.

Each test runs a copy of the script in a temporary checkout whose .venv is already set up, with a PATH
shim folder in front: fake fc-list (prints the fonts listed in a file), apt-get, sudo, id and fc-cache
that record their calls in a log, so nothing is installed and the machine's own fonts do not matter.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FONTS = ["Linux Libertine O", "Linux Libertine Display O", "Noto Serif CJK JP", "Noto Sans CJK JP"]

SHIMS = {
    # prints the installed font families, then (optionally) a long tail so that a reader stopping early
    # (grep -q) would end it with SIGPIPE
    "fc-list": 'echo "fc-list $*" >> "$LOG"; cat "$FONTS_FILE"; '
               'if [ -n "${LONG_TAIL:-}" ]; then i=0; while [ $i -lt 4000 ]; do '
               'echo "Some Other Font Family Number $i With A Long Name"; i=$((i+1)); done; fi',
    # "installs" the fonts (later fc-list calls see them) and HarfBuzz's subsetter (into $LIBS), or
    # fails to find a package named in $UNKNOWN
    "apt-get": 'echo "apt-get $*" >> "$LOG"; case " $* " in *" install "*) '
               'for p in $UNKNOWN; do case " $* " in *" $p "*) exit 100;; esac; done; '
               'printf "Linux Libertine O\\nNoto Serif CJK JP\\n" >> "$FONTS_FILE"; '
               'case " $* " in *" libharfbuzz-subset0 "*) touch "$LIBS/libharfbuzz-subset.so.0";; esac;; esac',
    "sudo": 'echo "sudo $*" >> "$LOG"; [ -z "${NO_SUDO:-}" ] || exit 1; [ "$1" = -n ] && shift; exec "$@"',
    "id": 'if [ "${1:-}" = -u ]; then echo 1000; else echo "uid=1000(author)"; fi',
    "fc-cache": 'echo "fc-cache $*" >> "$LOG"',
}


@pytest.fixture()
def checkout(tmp_path):
    """A copy of the set-up script in a checkout whose .venv is current, plus the shim folder."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    shutil.copyfile(REPO / "pyproject.toml", root / "pyproject.toml")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    stamp = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (root / ".venv" / ".build_book-setup").write_text(stamp + "\n")
    shims = tmp_path / "shims"
    shims.mkdir()
    for name, body in SHIMS.items():
        (shims / name).write_text("#!/bin/sh\n" + body + "\n")
        (shims / name).chmod(0o755)
    (tmp_path / "fonts.txt").write_text("")
    (tmp_path / "calls.log").write_text("")
    (tmp_path / "libs").mkdir()      # the system's libraries, as setup.sh sees them (BUILD_BOOK_LIB_DIRS)
    (tmp_path / "libs" / "libharfbuzz-subset.so.0").write_text("")
    return root


def run_setup(root: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    tmp = root.parent
    log = tmp / "calls.log"
    log.write_text("")
    environ = {"PATH": f"{tmp / 'shims'}:/usr/bin:/bin", "HOME": str(tmp), "LOG": str(log),
               "FONTS_FILE": str(tmp / "fonts.txt"), "PYTHON": sys.executable, "LIBS": str(tmp / "libs"),
               "BUILD_BOOK_LIB_DIRS": str(tmp / "libs"), **env}
    result = subprocess.run(["bash", str(root / "scripts" / "setup.sh")], env=environ,
                            capture_output=True, text=True, timeout=60)
    return result, log.read_text().splitlines()


def test_installs_missing_fonts_once_then_stays_quiet(checkout):
    first, calls = run_setup(checkout)
    assert first.returncode == 0, first.stderr
    assert "installing fonts-linuxlibertine fonts-noto-cjk" in first.stderr
    installs = [c for c in calls if c.startswith("apt-get install")]
    assert len(installs) == 1 and "fonts-linuxlibertine" in installs[0] and "fonts-noto-cjk" in installs[0]
    assert "sudo -n apt-get install" in " ".join(calls)                 # not root: through sudo
    # the font cache is refreshed after the install, so the new fonts are usable at once
    assert any(c.startswith("fc-cache") for c in calls[calls.index(installs[0]):])

    second, calls = run_setup(checkout)
    assert second.returncode == 0
    assert not [c for c in calls if "apt-get" in c or c.startswith("sudo")], calls
    assert second.stdout == "" and second.stderr == ""
    # quick because it does nothing slow: the fonts are looked up, not refreshed (no clock: a loaded machine
    # would fail a timed assertion, and scripts/benchmark.py measures speed)
    assert [c.split()[0] for c in calls] == ["fc-list"] * len(calls) and len(calls) <= len(FONTS), calls


def test_font_check_is_immune_to_sigpipe(checkout):
    """fc-list writes far more than grep -q reads: the fonts must still be found, every time."""
    (checkout.parent / "fonts.txt").write_text("\n".join(FONTS) + "\n")
    for _ in range(3):
        result, calls = run_setup(checkout, LONG_TAIL="1")
        assert result.returncode == 0, result.stderr
        assert calls and all(c.startswith("fc-list") for c in calls), calls   # no apt-get, no sudo
        assert result.stderr == ""


def test_without_sudo_it_says_what_to_install(checkout):
    (checkout.parent / "fonts.txt").write_text("Linux Libertine O\n")
    result, calls = run_setup(checkout, NO_SUDO="1")
    assert result.returncode == 0
    assert not [c for c in calls if c.startswith("apt-get")]
    assert "please install: fonts-noto-cjk" in result.stderr and "fonts-linuxlibertine" not in result.stderr


def test_installs_harfbuzz_subset_once_and_goes_on_without_it(checkout):
    """HarfBuzz's font subsetter (WeasyPrint cuts the PDF's fonts with it, several times faster than
    with fontTools) is installed with the fonts where it is missing; where it cannot be, setup says so
    once and the build goes on."""
    (checkout.parent / "fonts.txt").write_text("\n".join(FONTS) + "\n")
    (checkout.parent / "libs" / "libharfbuzz-subset.so.0").unlink()
    result, calls = run_setup(checkout)
    assert result.returncode == 0, result.stderr
    assert [c for c in calls if c.startswith("apt-get install")] == \
        ["apt-get install -y -qq --no-install-recommends libharfbuzz-subset0"]
    assert (checkout.parent / "libs" / "libharfbuzz-subset.so.0").exists()
    again, calls = run_setup(checkout)
    assert not [c for c in calls if "apt-get" in c or c.startswith("sudo")] and again.stderr == ""

    (checkout.parent / "libs" / "libharfbuzz-subset.so.0").unlink()     # a system without the package
    failed, calls = run_setup(checkout, UNKNOWN="libharfbuzz-subset0")
    assert failed.returncode == 0, failed.stderr
    assert "could not install libharfbuzz-subset0" in failed.stderr
    again, calls = run_setup(checkout, UNKNOWN="libharfbuzz-subset0")
    assert again.returncode == 0 and again.stderr == ""
    assert not [c for c in calls if "apt-get" in c or c.startswith("sudo")], calls

    for stamp in (checkout / ".venv").glob(".build_book-no-*"):
        stamp.unlink()
    (checkout.parent / "fonts.txt").write_text("Linux Libertine O\n")      # without sudo: says what to install
    told, calls = run_setup(checkout, NO_SUDO="1")
    assert told.returncode == 0 and not [c for c in calls if c.startswith("apt-get")]
    assert "please install: fonts-noto-cjk" in told.stderr and "install libharfbuzz-subset0" in told.stderr
    again, _ = run_setup(checkout, NO_SUDO="1")
    assert "libharfbuzz-subset0" not in again.stderr                      # said once

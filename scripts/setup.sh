#!/usr/bin/env bash
# Set build_book up on this machine, once: a virtual environment in .venv with
# the project and its dependencies, and the fonts the print edition uses
# (Linux Libertine for Latin text, Noto CJK for Japanese). Safe to run again:
# it does only what is missing. Used by scripts/book and scripts/test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$here/.venv"
stamp="$venv/.build_book-setup"
want="$(cat "$here/pyproject.toml" | sha256sum | cut -c1-16)"
say() { echo "build_book setup: $*" >&2; }

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # (checked only here: starting Python costs a tenth of a second on every run otherwise)
  python=${PYTHON:-python3}
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "Python 3.11 or newer is needed (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11"
    exit 2
  fi
  say "creating $venv and installing build_book with its dependencies (first use; about a minute)"
  "$python" -m venv "$venv"
  # pip's and setuptools' chatter goes to a log, shown only if the installation fails
  log="$venv/setup.log"
  if ! { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
         "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[test]"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    say "installing the Python packages failed (the whole log: $log)"
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# System packages: fonts for print, Java for EPUBCheck and the HTML checker.
# fc-list's output is read whole before it is searched: piping it into `grep -q`
# would end fc-list with SIGPIPE as soon as grep found a match, and under
# pipefail that failure made an installed font look missing.
fonts=$(fc-list : family 2>/dev/null || true)
has_font() { case "$fonts" in *"$1"*) return 0 ;; *) return 1 ;; esac; }
missing=()
has_font "Linux Libertine O" || missing+=(fonts-linuxlibertine)
has_font "Noto Serif CJK" || missing+=(fonts-noto-cjk)
if [ "${1:-}" = "--with-java" ]; then   # the test suite's tools: Java for EPUBCheck and the HTML checker,
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  command -v strace >/dev/null 2>&1 || missing+=(strace)   # traces the sandbox test's whole process tree
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)   # pdftotext, pdftoppm, pdffonts for PDF tests
  # the accessibility checkers (Ace by DAISY for the EPUB, axe-core for the web edition) run in Chromium
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
fi
# HarfBuzz's font subsetter (in C): WeasyPrint cuts the fonts it embeds in the PDF with it when it finds
# it, and otherwise with fontTools (in Python), which took 40% of the layout of a chapter, and made the
# volume's PDF (Noto CJK) some 2.5 times slower. Only a speed-up: where it cannot be installed, the
# build goes on without it, and setup tries once (the stamp below).
has_lib() {
  local dir
  for dir in ${BUILD_BOOK_LIB_DIRS:-/usr/lib/*-linux-gnu /usr/lib /usr/lib64 /usr/local/lib}; do
    [ -e "$dir/$1" ] && return 0
  done
  return 1
}
no_subsetter="$venv/.build_book-no-harfbuzz-subset"
optional=()
has_lib "libharfbuzz-subset.so.0" || [ -e "$no_subsetter" ] || optional+=(libharfbuzz-subset0)
if [ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
    wanted=("${missing[@]}" "${optional[@]}")
    say "installing ${wanted[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    if [ ${#missing[@]} -gt 0 ]; then
      $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      # make the new fonts known to fontconfig (and so to WeasyPrint) at once
      if command -v fc-cache >/dev/null 2>&1; then fc-cache >/dev/null 2>&1 || true; fi
    fi
    if [ ${#optional[@]} -gt 0 ] &&
       ! $sudo apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null 2>&1; then
      say "could not install ${optional[*]}: the PDF's fonts are cut with fontTools (slower)"
      touch "$no_subsetter"
    fi
  else
    if [ ${#missing[@]} -gt 0 ]; then
      say "please install: ${missing[*]} (Debian/Ubuntu package names); without them the PDF"
      say "falls back to other fonts and Japanese text may show as empty boxes"
    fi
    if [ ${#optional[@]} -gt 0 ]; then
      say "for a faster PDF, install ${optional[*]} (HarfBuzz's font subsetter; said once)"
      touch "$no_subsetter"
    fi
  fi
fi

# Node tools for the test suite, in .tools/ (versions pinned here; the stamp holds this list):
# Ace by DAISY (its puppeteer runner, driving the system Chromium) and axe-core.
if [ "${1:-}" = "--with-java" ]; then
  tools="$here/.tools"
  node_want="@daisy/ace@1.4.6 axe-core@4.14.1"
  if [ "$(cat "$tools/.stamp" 2>/dev/null)" != "$node_want" ]; then
    if command -v npm >/dev/null 2>&1; then
      say "installing $node_want into $tools (npm; first use)"
      mkdir -p "$tools"
      # no browser downloads: Ace's Electron runner is not used, and puppeteer drives /usr/bin/chromium
      if ELECTRON_SKIP_BINARY_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
         npm install --prefix "$tools" --no-audit --no-fund --ignore-scripts --loglevel=error $node_want \
         >"$tools/setup.log" 2>&1; then
        echo "$node_want" > "$tools/.stamp"
      else
        tail -n 20 "$tools/setup.log" >&2
        say "installing the Node tools failed (the whole log: $tools/setup.log); the accessibility tests will be skipped"
      fi
    else
      say "npm is missing: the accessibility tests (Ace, axe-core) will be skipped"
    fi
  fi
fi

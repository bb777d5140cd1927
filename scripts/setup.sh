#!/usr/bin/env bash
# Sets up a fresh machine: the virtual environment with pinned dependencies and, for the
# test suite (--test), the `dense` extra and the Debian packages the real-server tests use
# (Chromium and its driver for the browser test, Dovecot for the IMAP test, Noto CJK fonts
# for screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--test" ]; then
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
  [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
  [ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
  command -v openssl >/dev/null || need+=(openssl)
  if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${need[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "==> installing Ushiro and its pinned dependencies"
extras=dev
# The tests also cover dense retrieval (tests/knowledge/test_kb_dense.py): torch (CPU) and
# sentence-transformers: 35-40 s more and 1.3 GB more in .venv on the development machine.
if [ "${1:-}" = "--test" ]; then
  extras=dev,dense
fi
.venv/bin/python -m pip install -q -e ".[$extras]"

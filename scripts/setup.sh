#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: OS packages, TimescaleDB, .venv.
# Run by `make setup` (and so by `make demo` / `make test`). A second run with nothing to do
# only checks, and takes a few seconds. Works as root (CI) or as a user with sudo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
TSDB_VERSION_PREFIX="2.19."
CACHE_DIR="${IOC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/haiphong-ioc}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="__none__"; fi

# ---------------------------------------------------------------- OS packages
# postgresql-15 and its server-dev package are installed together: server-dev pulls the
# matching point release of the server, and a mismatched pair would build TimescaleDB
# against headers the running server does not have.
PACKAGES=(
  postgresql-15 postgresql-server-dev-15 postgresql-client-15
  mosquitto mosquitto-clients
  build-essential cmake dpkg-dev libssl-dev xz-utils
  chromium chromium-driver
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
  [ "$SUDO" = "__none__" ] && die "missing packages; as root run: $cmd"
  say "installing OS packages: ${missing[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed; run by hand: $cmd"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "package install failed; run by hand: $cmd"
fi

# ---------------------------------------------------------------- TimescaleDB
PKGLIBDIR="$("$PG_BIN/pg_config" --pkglibdir)"
SHAREDIR="$("$PG_BIN/pg_config" --sharedir)"
have_tsdb() { ls "$PKGLIBDIR"/timescaledb-${TSDB_VERSION_PREFIX}*.so >/dev/null 2>&1 \
              && [ -f "$SHAREDIR/extension/timescaledb.control" ]; }
if ! have_tsdb; then
  [ "$SUDO" = "__none__" ] && die "TimescaleDB is missing and installing it needs root or sudo"
  PG_VERSION="$("$PG_BIN/pg_config" --version | awk '{print $2}')"
  STAGE="$CACHE_DIR/timescaledb-pg${PG_VERSION}"
  if [ ! -f "$STAGE/.complete" ]; then
    say "building TimescaleDB ${TSDB_VERSION_PREFIX}x (Apache edition) from Debian trixie's source package"
    WORK="$CACHE_DIR/build"
    rm -rf "$WORK" "$STAGE"
    mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/src"
    # A private apt configuration holding only a trixie deb-src line: the system's sources are
    # left alone. The mirror is the one this machine already uses.
    MIRROR="$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
              | grep -o 'https\?://[^ ]*/debian/\?' | grep -v security | head -n1 || true)"
    MIRROR="${IOC_DEBIAN_MIRROR:-$MIRROR}"
    [ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt; set IOC_DEBIAN_MIRROR"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" \
      > "$WORK/apt/sources.list"
    APT_OPTS=(-o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
              -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache"
              -o "APT::Sandbox::User=root" -qq)
    apt-get "${APT_OPTS[@]}" update || die "could not read trixie's source index from $MIRROR"
    (cd "$WORK/src" && apt-get "${APT_OPTS[@]}" source timescaledb >/dev/null) \
      || die "apt-get source timescaledb failed"
    SRC="$(find "$WORK/src" -maxdepth 1 -type d -name 'timescaledb-*' | head -n1)"
    case "$SRC" in *"timescaledb-${TSDB_VERSION_PREFIX}"*) ;; *) die "unexpected source version: $SRC";; esac
    (cd "$SRC" && PATH="$PG_BIN:$PATH" ./bootstrap -DPG_CONFIG="$PG_BIN/pg_config" \
        -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
        > "$WORK/bootstrap.log" 2>&1 \
      && make -C build -j"$(nproc)" > "$WORK/make.log" 2>&1 \
      && make -C build install DESTDIR="$STAGE" > "$WORK/install.log" 2>&1) \
      || die "TimescaleDB build failed; see logs in $WORK"
    touch "$STAGE/.complete"
    rm -rf "$WORK"
  else
    say "installing TimescaleDB from the build cache $STAGE"
  fi
  # The staged tree mirrors / (lib and share of PostgreSQL): copy it into place.
  $SUDO cp -a "$STAGE/." / && $SUDO rm -f /.complete
  have_tsdb || die "TimescaleDB still not found in $PKGLIBDIR after install"
fi

# ---------------------------------------------------------------- Python environment
STAMP=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$STAMP" ]; then
  say "installing the project into .venv (pip install -e '.[dev]')"
  if ! { .venv/bin/python -m pip install -q --upgrade pip \
         && .venv/bin/python -m pip install -q -e '.[dev]'; } > .venv/pip-install.log 2>&1; then
    cat .venv/pip-install.log >&2
    die "pip install failed (log above, also in .venv/pip-install.log)"
  fi
  rm -f .venv/.installed-* && touch "$STAMP"
fi
say "ready"

# Shared by scripts/test, scripts/demo, scripts/bench and scripts/lock (sourced, not run).
#
# Everything is installed into the checkout's own virtualenv, .venv (created when missing), never
# into the system's Python: Debian's refuses pip installs (PEP 668, "externally managed"). Python
# packages come at the versions pinned in constraints.txt, so a new release of a dependency cannot
# change what CI runs unannounced (scripts/lock renews the pins on purpose).
#
# Settings: PYTHON, the interpreter that creates .venv (default python3, 3.11 or newer);
# IDP_VENV, another virtualenv folder to use instead of .venv.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${IDP_VENV:-$ROOT/.venv}
VENV_PYTHON="$VENV/bin/python"
SCRIPT_NAME=${SCRIPT_NAME:-$(basename "$0")}

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { say "$*"; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
APT_UPDATED=""
# apt_install PACKAGE...: Debian packages, quietly, with one `apt-get update` per run.
apt_install() {
    command -v apt-get >/dev/null || die "cannot install $* (no apt-get here): install it and run again"
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq </dev/null
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null </dev/null
}

# ensure_venv: creates $VENV with $PYTHON when it is missing or broken (installing Debian's
# python3-venv when the interpreter has no venv/ensurepip, as on a stock Debian).
ensure_venv() {
    local python=${PYTHON:-python3}
    if [ -x "$VENV_PYTHON" ] && "$VENV_PYTHON" -c "import pip" 2>/dev/null; then
        return
    fi
    command -v "$python" >/dev/null || die "no $python on PATH: install Python 3.11 or newer"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$python is $("$python" -V 2>&1); the IdP needs Python 3.11 or newer (set PYTHON=...)"
    say "creating the virtualenv $VENV"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" </dev/null >/dev/null 2>&1; then
        rm -rf "$VENV"
        local minor
        minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        say "installing Debian's python3-venv (python$minor-venv) to create it"
        apt_install "python$minor-venv" || apt_install python3-venv
        "$python" -m venv "$VENV" </dev/null || die "could not create $VENV with $python"
    fi
}

# install_project EXTRAS: the package (editable) with EXTRAS (e.g. "test,dev", or "" for none) into
# $VENV, at the versions pinned in constraints.txt.
install_project() {
    local extras=$1 spec="$ROOT"
    [ -n "$extras" ] && spec="$ROOT[$extras]"
    ensure_venv
    "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check --progress-bar off \
        -c "$ROOT/constraints.txt" -e "$spec" </dev/null
}

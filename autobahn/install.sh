#!/usr/bin/env bash
# Install Autobahn|Testsuite's `wstest` into a private cache and print the path
# of a runnable wrapper on stdout (all progress goes to stderr).
#
# wstest is Python 2.7 code. Python 2.7 is not packaged for bookworm, so this
# downloads bullseye's python2.7 .debs with a private apt state (the system's
# apt configuration and package database are left untouched), unpacks them with
# `dpkg -x` into the cache, bootstraps pip 20.3.4 and pip-installs pinned
# versions of the suite and its dependencies into a --target directory.
#
# Idempotent: a completed install is recorded by a stamp file, and a second run
# only checks that the wrapper starts and prints its path.
#
#   WS13_AUTOBAHN_CACHE   cache directory (default: $HOME/.cache/ws13-autobahn)
#   WS13_AUTOBAHN_REINSTALL=1   discard the cache and install again
set -euo pipefail

CACHE="${WS13_AUTOBAHN_CACHE:-${HOME:-/root}/.cache/ws13-autobahn}"
# Bump when anything below changes, so old caches are rebuilt.
STAMP_VERSION="ws13-autobahn-3 autobahntestsuite-25.10.1 wsaccel-0.6.2"
CURRENT="$CACHE/current"
WSTEST="$CURRENT/bin/wstest"

log() { printf 'autobahn/install.sh: %s\n' "$*" >&2; }

installed() {
    [[ -x "$WSTEST" && -f "$CURRENT/.stamp" ]] &&
        [[ "$(cat "$CURRENT/.stamp")" == "$STAMP_VERSION" ]] &&
        [[ -x "$CURRENT/bin/wstest-cases" ]] &&
        timeout 60 "$WSTEST" --help >/dev/null 2>&1
}

mkdir -p "$CACHE"
if [[ "${WS13_AUTOBAHN_REINSTALL:-0}" != 1 ]] && installed; then
    echo "$WSTEST"
    exit 0
fi

# One installer at a time per cache.
exec 9>"$CACHE/.lock"
if ! flock -w 600 9; then
    log "timed out waiting for another install holding $CACHE/.lock"
    exit 1
fi
if [[ "${WS13_AUTOBAHN_REINSTALL:-0}" != 1 ]] && installed; then
    echo "$WSTEST"
    exit 0
fi

start=$SECONDS
log "installing wstest into $CACHE"

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
[[ -e /usr/include/stdio.h ]] || need_apt+=(libc6-dev)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || need_apt+=(ca-certificates)
command -v flock >/dev/null 2>&1 || need_apt+=(util-linux)
if ((${#need_apt[@]})); then
    log "apt-get install ${need_apt[*]}"
    timeout 600 apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${need_apt[@]}" >&2
fi

arch="$(dpkg --print-architecture)"
multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
[[ -n "$multiarch" ]] || multiarch="$(uname -m)-linux-gnu"

rm -rf "$CACHE"/build.* # left by an interrupted install (we hold the lock)
build="$CACHE/build.$$"
mkdir -p "$build"/{apt/lists/partial,apt/cache/archives/partial,debs,prefix,tools,site,bin,dl}
cleanup() { rm -rf "$build"; }
trap cleanup EXIT

# --- Python 2.7 from bullseye, unpacked into a private prefix ---------------
echo "deb [trusted=yes] http://deb.debian.org/debian bullseye main" >"$build/apt/sources.list"
apt_opts=(
    -o "Dir::Etc::sourcelist=$build/apt/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$build/apt/lists"
    -o "Dir::Cache=$build/apt/cache"
    -o "APT::Architecture=$arch"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
)
log "apt-get update (private bullseye list)"
timeout 600 apt-get "${apt_opts[@]}" update -qq >&2
debs=(python2.7 python2.7-minimal libpython2.7-minimal libpython2.7-stdlib
    libpython2.7 libpython2.7-dev python2.7-dev libssl1.1 libffi7)
log "apt-get download ${debs[*]}"
(cd "$build/debs" && timeout 600 apt-get "${apt_opts[@]}" download -qq "${debs[@]}" >&2)
for deb in "$build"/debs/*.deb; do
    dpkg -x "$deb" "$build/prefix"
done
rm -rf "$build/apt" "$build/debs"

# Runs "$@" with the unpacked Python 2.7 usable and the build tools on its path.
py_env() {
    local lp="$build/prefix/usr/lib/$multiarch:$build/prefix/lib/$multiarch"
    env -u PIP_FIND_LINKS -u PYTHONSTARTUP \
        LD_LIBRARY_PATH="$lp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        PYTHONHOME="$build/prefix/usr" PYTHONNOUSERSITE=1 PYTHONPATH="$build/tools" "$@"
}
py2="$build/prefix/usr/bin/python2.7"
py_env "$py2" -c 'import ssl, ctypes, zlib, sys; print(sys.version.split()[0])' >&2

# --- pip 20.3.4 (the last pip for Python 2.7), run from its wheel ------------
log "downloading pip 20.3.4 wheel"
env -u PIP_FIND_LINKS timeout 300 python3 -m pip download -q --no-deps --only-binary=:all: \
    -d "$build/dl" pip==20.3.4 >&2
pip_whl="$(ls "$build"/dl/pip-20.3.4-*.whl)"

inc="-I$build/prefix/usr/include -I$build/prefix/usr/include/python2.7 -I$build/prefix/usr/include/$multiarch/python2.7"
pip2() {
    py_env env CFLAGS="$inc" LDFLAGS="-L$build/prefix/usr/lib/$multiarch" \
        timeout 900 "$py2" "$pip_whl/pip" install -q --no-warn-script-location \
        --disable-pip-version-check --no-cache-dir --no-compile --target "$@" >&2
}
log "pip install setuptools 44.1.1 (the last for Python 2.7; sdists need it to build)"
pip2 "$build/tools" setuptools==44.1.1 wheel==0.37.1
log "pip install autobahntestsuite and pinned dependencies"
pkgs=(
    autobahntestsuite==25.10.1
    "autobahn[twisted]==0.10.9"
    Twisted==19.10.0
    txaio==2.1.0
    zope.interface==4.6.0
    incremental==16.10.1
    six==1.16.0
    jinja2==2.11.3
    markupsafe==1.1.1
    Werkzeug==1.0.1
    klein==17.10.0
    pyOpenSSL==19.1.0
    cryptography==3.3.2
    service_identity==18.1.0
    unittest2==1.1.0
    # wsaccel 0.6.3 and later validate UTF-8 with `for i, b in enumerate(buf)`,
    # which Cython compiles to a Python-object loop: 20 ms per 128 KiB text
    # message, measured here, and most of sections 12-13's run time. 0.6.2
    # runs the same DFA in a typed C loop (0.38 ms) with the same results.
    wsaccel==0.6.2
    "ujson<3"
    # what the above pulled in, pinned so that every install is the same
    Automat==22.10.0
    attrs==21.4.0
    PyHamcrest==1.10.1
    argparse==1.4.0
    cffi==1.15.1
    pycparser==2.21
    constantly==15.1.0
    enum34==1.1.10
    hyperlink==21.0.0
    idna==2.10
    ipaddress==1.0.23
    linecache2==1.0.0
    traceback2==1.4.0
    pyasn1==0.5.1
    pyasn1_modules==0.3.0
    typing==3.10.0.0
    setuptools==44.0.0
)
pip2 "$build/site" "${pkgs[@]}"
rm -rf "$build/dl" "$build/tools"

# --- the wrappers --------------------------------------------------------------
cat >"$build/bin/wstest.py" <<'EOF'
# Runs Autobahn|Testsuite's wstest from the private site dir (site.addsitedir
# processes the .pth files that the zope namespace package needs).
import os, site, sys
site.addsitedir(os.environ["WS13_WSTEST_SITE"])
from autobahntestsuite import wstest
sys.argv[0] = "wstest"
wstest.run()
EOF
cat >"$build/bin/cases.py" <<'EOF'
# Prints, as a JSON list, the ids of the cases that a wstest spec file selects
# ("cases" minus "exclude-cases"), exactly as wstest itself resolves them.
import json, os, site, sys
site.addsitedir(os.environ["WS13_WSTEST_SITE"])
from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseSetname, CaseBasename
from autobahntestsuite.caseset import CaseSet
if len(sys.argv) != 2:
    sys.exit("usage: wstest-cases SPEC.json")
with open(sys.argv[1]) as f:
    spec = json.load(f)
caseset = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
print(json.dumps(caseset.parseSpecCases(spec)))
EOF
for tool in wstest:wstest.py wstest-cases:cases.py; do
    sed -e "s|@MULTIARCH@|$multiarch|g" -e "s|@SCRIPT@|${tool#*:}|g" >"$build/bin/${tool%%:*}" <<'EOF'
#!/usr/bin/env bash
# Autobahn|Testsuite (Python 2.7 from a private prefix), made by autobahn/install.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lp="$root/prefix/usr/lib/@MULTIARCH@:$root/prefix/lib/@MULTIARCH@"
export LD_LIBRARY_PATH="$lp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONHOME="$root/prefix/usr" PYTHONNOUSERSITE=1 WS13_WSTEST_SITE="$root/site"
unset PYTHONPATH PYTHONSTARTUP
exec "$root/prefix/usr/bin/python2.7" "$root/bin/@SCRIPT@" "$@"
EOF
    chmod +x "$build/bin/${tool%%:*}"
done

timeout 60 "$build/bin/wstest" --help >/dev/null
echo '{"cases": ["1.1.1"]}' >"$build/probe.json"
[[ "$(timeout 60 "$build/bin/wstest-cases" "$build/probe.json")" == '["1.1.1"]' ]]
rm -f "$build/probe.json"
echo "$STAMP_VERSION" >"$build/.stamp"

# Swap the finished tree into place.
rm -rf "$CURRENT.old"
if [[ -e "$CURRENT" ]]; then mv "$CURRENT" "$CURRENT.old"; fi
mv "$build" "$CURRENT"
rm -rf "$CURRENT.old"
trap - EXIT

log "installed in $((SECONDS - start))s"
echo "$WSTEST"

#!/usr/bin/env bash
# Prepares the Python that runs `cargo merge query`'s text on real engines in the tests
# (merge-cli/tests/query_engines.rs): a virtual environment under target/ with pyspark (local
# Spark; needs Java 17 or later) and chdb (in-process ClickHouse), the versions of
# fixtures/traces/engines-requirements.txt. Prints the interpreter's path. Safe to run from
# several tests at once; does nothing when the environment is ready.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${MERGE_ENGINES_VENV:-$root/target/engines-venv}"
py="$venv/bin/python"
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! "$py" -c 'import pyspark, chdb' 2>/dev/null; then
    if ! java -version >/dev/null 2>&1; then
        echo "engines-venv: Spark needs Java 17 or later on PATH" >&2
        exit 1
    fi
    reqs="$root/fixtures/traces/engines-requirements.txt"
    if python3 -m venv "$venv" >&2 2>/dev/null && "$py" -m pip --version >/dev/null 2>&1; then
        "$py" -m pip install --quiet --disable-pip-version-check -r "$reqs" >&2
    else
        # No venv module (Debian's python3-venv missing): the packages in a folder of their own
        # and an interpreter script that puts it on the path.
        rm -rf "$venv"
        mkdir -p "$venv/bin"
        python3 -m pip install --quiet --disable-pip-version-check --target "$venv/lib" -r "$reqs" >&2
        printf '#!/bin/sh\nPYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$@"\n' "$venv/lib" >"$py"
        chmod +x "$py"
    fi
    "$py" -c 'import pyspark, chdb' >&2
fi
echo "$py"

#!/usr/bin/env bash
# Runs the whole test suite the way CI does: installs what is missing, makes sure a Docker Engine
# answers, checks formatting, builds with -Werror, builds the ASan+UBSan variant, runs each
# libFuzzer target for a bounded time (when clang is installed), then runs every CTest test in the
# sanitizer build and finally in the normal build, whose summary is the last thing printed.
# The example images the SDK tests run are built by CTest itself (fixture sdk_example_images, from
# the build tree under test), so those tests never run against stale images or skip.
# Usage: scripts/test.sh [--quick] [--no-deps]
#   --quick    normal build and its tests only (no sanitizers, no fuzzing)
#   --no-deps  do not run scripts/install-deps.sh
# Environment: IOFOG_FUZZ_SECONDS (default 30) per fuzz target; IOFOG_JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
deps=1
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --no-deps) deps=0 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $arg" >&2; exit 2 ;;
    esac
done
jobs=${IOFOG_JOBS:-$(nproc)}
fuzz_seconds=${IOFOG_FUZZ_SECONDS:-30}
step() { printf '\n==> %s\n' "$*"; }

if [ "$deps" -eq 1 ]; then
    step "dependencies"
    scripts/install-deps.sh
fi

step "docker engine"
if ! scripts/dockerd.sh start; then
    echo "warning: no Docker Engine; tests that need one will fail" >&2
fi

step "format check (clang-format 14)"
scripts/check-format.sh

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOFOG_WERROR=ON >/dev/null
cmake --build build/ci -j "$jobs"

if [ "$quick" -eq 0 ]; then
    step "build (Debug, ASan+UBSan, -Werror)"
    cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DIOFOG_WERROR=ON >/dev/null
    cmake --build build/asan -j "$jobs"

    if command -v clang >/dev/null 2>&1; then
        step "fuzz (${fuzz_seconds}s per target)"
        CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOFOG_FUZZ=ON \
            -DIOFOG_SANITIZE=ON -DIOFOG_TESTS=OFF -DIOFOG_WERROR=ON >/dev/null
        cmake --build build/fuzz -j "$jobs"
        scripts/fuzz.sh build/fuzz "$fuzz_seconds"
    else
        echo "clang not installed: fuzz targets skipped"
    fi

    step "tests (ASan+UBSan build)"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ctest --test-dir build/asan --output-on-failure -j "$jobs"
fi

step "tests"
ctest --test-dir build/ci --output-on-failure -j "$jobs"

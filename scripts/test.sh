#!/usr/bin/env bash
# Runs every test: builds what is missing in build/, then ctest runs the
# unit tests, the fuzz corpus replays and the end-to-end tests (pytest
# against the real binary on loopback).
#
#   scripts/test.sh                 the release build in build/
#   BUILD_DIR=build-asan scripts/test.sh -DPOSHTA_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
fi
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j1

#!/usr/bin/env bash
# One entry point for a fresh Debian 12 (bookworm) machine.
#
#   scripts/dtx.sh demo    install packages, build, run the demo (the mall, examples/mall)
#   scripts/dtx.sh test    install packages, build, run every test (ctest)
#   scripts/dtx.sh bench   install packages, build, run the benchmark program
#   scripts/dtx.sh deps    install the Debian packages only
#   scripts/dtx.sh build   install packages and build into $DTX_BUILD_DIR (default build/)
#
# Needs root or sudo for apt-get. Packages already installed are not fetched again.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${DTX_BUILD_DIR:-$root/build}
jobs=${DTX_JOBS:-2}

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libabsl-dev nlohmann-json3-dev
  libsoci-dev libboost-dev libsqlite3-dev
  libcpp-httplib-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcli11-dev
  catch2
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dtx.sh: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

build() {
  deps
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}"
  cmake --build "$build_dir" -j "$jobs"
}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
  test)
    build
    cd "$build_dir"
    ctest -j "$jobs" --output-on-failure --timeout 600
    ;;
  demo)
    build
    "$build_dir/examples/mall/mall" demo
    ;;
  bench)
    build
    "$build_dir/bench/dtx_bench" "${@:2}"
    ;;
  *)
    sed -n '2,11p' "$0"
    exit 2
    ;;
esac

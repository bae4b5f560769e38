#!/usr/bin/env bash
# Installs everything Poshta needs to build, test and benchmark on Debian 12,
# from Debian's own packages, then configures and builds the release tree in
# build/. Postfix and Dovecot are installed too, not started: the tests run
# private instances of them as peers (interoperability), and bench/ as
# anchors. Creates the system user `poshta` that the server runs as. Run as
# root (or through sudo). Safe to run again.
#
#   scripts/setup.sh            packages + release build
#   scripts/setup.sh --deps     packages only
set -euo pipefail
cd "$(dirname "$0")/.."

want_build=1
for arg in "$@"; do
  case "$arg" in
    --deps) want_build=0 ;;
    *) echo "usage: scripts/setup.sh [--deps]" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git clang libclang-rt-14-dev
  # libraries
  libasio-dev libssl-dev libc-ares-dev libsqlite3-dev libtomlplusplus-dev
  libcli11-dev libspdlog-dev libfmt-dev libcrypt-dev zlib1g-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-pytest swaks
  curl dnsmasq-base openssl procps libnet-ssleay-perl libio-socket-ssl-perl
  # peers and clients of the interoperability tests, anchors of the benchmarks
  postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd fetchmail isync neomutt offlineimap3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix is only a peer here: it must not configure itself as the host's MTA.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The unprivileged user Poshta runs as once it has bound its ports
# (`user` in the configuration); it owns data_dir.
if ! getent passwd poshta >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin poshta
fi

if [ "$want_build" = 1 ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build
fi

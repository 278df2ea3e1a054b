#!/usr/bin/env bash
# Installs what wsload needs from Debian's apt; quick and silent when all is present.
set -euo pipefail

packages=(g++ cmake make pkg-config libboost-dev libssl-dev nlohmann-json3-dev zlib1g-dev
          libre2-dev  # the regex: rules (found through pkg-config)
          libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev openssl
          libyaml-cpp-dev  # the examples' manifests, parsed by a test
          chromium libxml2-utils  # HTML reports rendered, JUnit XML validated, by tests
          prometheus  # a real Prometheus server scrapes a run's live metrics, in a test
          clang libclang-rt-14-dev)  # clang: the libFuzzer targets only
[ "${WSLOAD_WITH_CCACHE:-1}" = 1 ] && packages+=(ccache)
# node and npm run graphql-ws, rpc-websockets and ws, servers the session tests run against.
# Judged by command, not package: a node from elsewhere (NodeSource's bundles npm, and
# conflicts with Debian's npm package) is as good.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run the whole suite.
#
# Installs (only what is missing): Rust components rustfmt/clippy, and the real servers the integration
# tests start on loopback ports — VictoriaMetrics and InfluxDB 1.6 (telemetry writes), ipmi_sim and
# ipmitool (a BMC), busybox-static (FROM-scratch test images). Then: format check, clippy with warnings
# as errors, every test of the workspace, and `wattsweep plan` on every example campaign.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
  command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
  command -v ipmi_sim >/dev/null 2>&1 || missing+=(openipmi)
  command -v ipmitool >/dev/null 2>&1 || missing+=(ipmitool)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    # Package scripts must not start the servers: the tests start their own on free ports.
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    as_root rm -f /usr/sbin/policy-rc.d
  fi
}

install_rust_components() {
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    log "installing rustfmt and clippy"
    rustup component add rustfmt clippy
  fi
}

install_debian_packages
install_rust_components

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked

log "planning every example campaign"
for f in deploy/campaigns/*.toml; do
  printf '%s: ' "$f"
  target/debug/wattsweep plan "$f" | tail -n 1
done

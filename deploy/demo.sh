#!/usr/bin/env bash
# Build wattsweep and show what it does today: plan every example campaign (one per experiment of the
# research seeds) into its task table, and exercise the MIG engine on an H100. Running campaigns on a
# fleet comes with the coordinator; until then this is the main job.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building wattsweep (release)"
cargo build --release --locked --bin wattsweep
ws=target/release/wattsweep

echo
echo "==> MIG profiles of an H100 80GB"
"$ws" mig profiles --gpu h100-80gb

echo
echo "==> every maximal MIG layout of an H100 80GB from profiles 19,14,9,5,0"
"$ws" mig layouts --gpu h100-80gb --profiles 19,14,9,5,0 --maximal

echo
echo "==> checking layouts"
for layout in "4g.40gb + 3g.40gb" "7g.80gb(2c x3 + 1c)" "3g.40gb x3"; do
  "$ws" mig check --gpu h100-80gb "$layout" || true
done

for f in deploy/campaigns/*.toml; do
  echo
  echo "==> wattsweep plan $f --gpu h100-80gb:4"
  "$ws" plan "$f" --gpu h100-80gb:4
done

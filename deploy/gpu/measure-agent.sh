#!/usr/bin/env bash
# The agent's measurements on a real GPU machine (issue "Agent node"): inventory against nvidia-smi's
# MIG tables, power-sample spacing and energy accuracy under a bursty load, and the sampler's CPU
# cost beside a pynvml loop and nvidia-smi. Reads only: clocks, power limits, MIG mode, persistence
# and compute mode are left as found, and the GPU is never reset.
#
#   BIN=target/release/wattsweep-agent OUT=out/gpu-measure bash deploy/gpu/measure-agent.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/release/wattsweep-agent}
OUT=${OUT:-out/gpu-measure}
SECONDS_ENERGY=${SECONDS_ENERGY:-40}
SECONDS_BENCH=${SECONDS_BENCH:-30}
mkdir -p "$OUT"
R="$OUT/report.txt"
: > "$R"
say() { printf '\n### %s\n' "$*" >> "$R"; }

say "GPU as found"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,mig.mode.current,persistence_mode,compute_mode --format=csv >> "$R" 2>&1
say "nvidia-smi mig -lgip"
nvidia-smi mig -lgip >> "$R" 2>&1
say "nvidia-smi mig -lgipp"
nvidia-smi mig -lgipp >> "$R" 2>&1
say "wattsweep-agent inventory"
"$BIN" inventory >> "$R" 2>&1
"$BIN" inventory --format json > "$OUT/inventory.json" 2>> "$R"

say "energy: bursty load (bf16 matmul 0.3 s on / 0.7 s off), ${SECONDS_ENERGY} s of sampling"
python3 deploy/gpu/bursty_load.py --seconds $((SECONDS_ENERGY + 10)) > "$OUT/load.log" 2>&1 &
load=$!
for _ in $(seq 1200); do  # readiness: the load says it is ready (at most 120 s)
  grep -q "bursty-load ready" "$OUT/load.log" && break
  kill -0 "$load" 2>/dev/null || break
  sleep 0.1
done
python3 deploy/gpu/reference_energy.py --seconds "$SECONDS_ENERGY" > "$OUT/reference.txt" 2>&1 &
ref=$!
"$BIN" sample --seconds "$SECONDS_ENERGY" --format json > "$OUT/sample.jsonl" 2> "$OUT/sample.err"
echo "sample exit: $?" >> "$R"
wait "$ref"; wait "$load"
cat "$OUT/load.log" >> "$R"; rm -f "$OUT/load.log"
grep -h summary "$OUT/sample.jsonl" "$OUT/sample.err" >> "$R"
cat "$OUT/reference.txt" >> "$R"

say "sampler CPU cost, ${SECONDS_BENCH} s side by side, GPU idle"
"$BIN" bench-sampler --seconds "$SECONDS_BENCH" > "$OUT/bench-agent.txt" 2>&1 &
a1=$!
"$BIN" bench-sampler --seconds "$SECONDS_BENCH" --drain-ms 1000 > "$OUT/bench-agent-drain1s.txt" 2>&1 &
a2=$!
python3 deploy/gpu/pynvml_loop.py --seconds "$SECONDS_BENCH" --hz 50 > "$OUT/bench-pynvml.txt" 2>&1 &
p1=$!
nvidia-smi --query-gpu=power.draw,temperature.gpu,utilization.gpu,memory.used,clocks.sm --format=csv -lms 100 > /dev/null 2>&1 &
smi=$!
t0=$(date +%s.%N)
wait "$a1" "$a2" "$p1"
t1=$(date +%s.%N)
tck=$(getconf CLK_TCK)
read -r ut st < <(awk '{print $14, $15}' "/proc/$smi/stat")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$smi/status")
kill "$smi"; wait "$smi" 2>/dev/null
python3 -c "w=$t1-$t0; c=($ut+$st)/$tck; print(f'nvidia-smi -lms 100 (5 fields): wall_s={w:.2f} cpu_s={c:.3f} cpu_s_per_s={c/w:.6f} peak_rss_kib=$hwm')" >> "$R"
for f in bench-agent.txt bench-agent-drain1s.txt bench-pynvml.txt; do echo "--- $f" >> "$R"; cat "$OUT/$f" >> "$R"; done
echo "done" >> "$R"

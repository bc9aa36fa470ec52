"""Bursty GPU load for energy-accuracy checks: bf16 matmuls for ON seconds, idle for OFF seconds.

The on/off pattern is what 1 s power averages and 5 s nvidia-smi polling miss; the agent's 20 ms sample
buffer must integrate it to within 0.5 % of the GPU's energy counter.
"""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=45.0)
p.add_argument("--on", type=float, default=0.3)
p.add_argument("--off", type=float, default=0.7)
p.add_argument("--n", type=int, default=8192)
a = p.parse_args()

x = torch.randn(a.n, a.n, device="cuda", dtype=torch.bfloat16)
y = torch.randn(a.n, a.n, device="cuda", dtype=torch.bfloat16)
torch.cuda.synchronize()
print("bursty-load ready", flush=True)
end = time.monotonic() + a.seconds
bursts = 0
while time.monotonic() < end:
    t_on = time.monotonic() + a.on
    while time.monotonic() < t_on:
        for _ in range(4):
            x @ y
        torch.cuda.synchronize()
    bursts += 1
    time.sleep(a.off)
print(f"bursty-load done bursts={bursts}", flush=True)

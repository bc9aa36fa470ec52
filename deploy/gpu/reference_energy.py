"""Reference energy figures for the agent's accuracy check, read during the same window: the GPU's
energy counter at start and end, and power_usage() (a 1 s average on Ampere and newer) polled every
1 s and every 5 s (nvidia-smi style), each integrated and compared with the counter."""
import argparse
import time

import pynvml

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=40.0)
a = p.parse_args()

pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
t0 = time.monotonic()
polls = []  # (t, watts)
nxt = t0
while True:
    now = time.monotonic()
    if now - t0 >= a.seconds:
        break
    polls.append((now - t0, pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0))
    nxt += 1.0
    time.sleep(max(0.0, nxt - time.monotonic()))
e1 = pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
wall = time.monotonic() - t0
counter_j = (e1 - e0) / 1000.0


def held(samples, wall):
    """Each poll's value held until the next poll (what a polling exporter stores)."""
    total = 0.0
    for i, (t, w) in enumerate(samples):
        end = samples[i + 1][0] if i + 1 < len(samples) else wall
        total += w * (end - t)
    return total


every_1s = held(polls, wall)
every_5s = held(polls[::5], wall)
print(f"reference window {wall:.2f} s: counter {counter_j:.1f} J")
print(f"power_usage() every 1 s: {every_1s:.1f} J ({(every_1s / counter_j - 1) * 100:+.2f} %)")
print(f"power_usage() every 5 s (nvidia-smi style): {every_5s:.1f} J ({(every_5s / counter_j - 1) * 100:+.2f} %)")

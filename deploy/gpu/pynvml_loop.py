"""Baseline for the sampler-overhead benchmark: a pynvml loop reading the same five fields (power,
temperature, utilisation, memory, SM clock) at a fixed rate; prints its own CPU seconds per second."""
import argparse
import resource
import time

import pynvml

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=30.0)
p.add_argument("--hz", type=float, default=50.0)
a = p.parse_args()

pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
period = 1.0 / a.hz
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.monotonic()
n = 0
nxt = t0
while time.monotonic() - t0 < a.seconds:
    pynvml.nvmlDeviceGetPowerUsage(h)
    pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
    pynvml.nvmlDeviceGetUtilizationRates(h)
    pynvml.nvmlDeviceGetMemoryInfo(h)
    pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)
    n += 1
    nxt += period
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
wall = time.monotonic() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
with open("/proc/self/status") as f:
    hwm = next(l.split()[1] for l in f if l.startswith("VmHWM"))
print(f"pynvml-loop hz={a.hz} reads={n} wall_s={wall:.2f} cpu_s={cpu:.4f} "
      f"cpu_s_per_s={cpu / wall:.6f} peak_rss_kib={hwm}")

"""PyTorch reference for tools/bench/gatys-app.ts: one Gatys et al. iteration with Adam on the image, VGG19 up to
conv5_1 with seeded He-initialised weights (the time does not depend on the values), content loss at conv4_2 and
Gram losses at conv1_1..conv5_1, the same work as tools/bench/gatys.ts. Prints one line: BENCH {json}.

    /usr/bin/python3 tools/bench/gatys_torch.py --size 512 --iters 3 [--threads N]

Debian's python3-torch (1.13, OpenBLAS) is what the machines here have; any PyTorch works.
"""
import argparse
import json
import os
import resource
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=512)
p.add_argument("--iters", type=int, default=3)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--pool", default="max")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(7)

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
STYLE = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
CONTENT = "conv4_2"

layers = []
cin, block, index = 3, 1, 1
for item in CFG:
    if item == "M":
        layers.append("M")
        block, index = block + 1, 1
        continue
    w = torch.randn(item, cin, 3, 3) * (2.0 / (9 * cin)) ** 0.5
    layers.append((f"conv{block}_{index}", w, torch.zeros(item)))
    index += 1
    cin = item


def features(x):
    out = {}
    for op in layers:
        if op == "M":
            x = F.max_pool2d(x, 2) if a.pool == "max" else F.avg_pool2d(x, 2)
            continue
        name, w, b = op
        x = F.relu(F.conv2d(x, w, b, padding=1))
        out[name] = x
    return out


def gram(f):
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (h * w)


def flops():
    total, s, cin = 0, a.size, 3
    for op in layers:
        if op == "M":
            s //= 2
            continue
        name, w, _ = op
        cout = w.shape[0]
        total += 2 * 2 * s * s * 9 * cin * cout
        if name in STYLE:
            total += 3 * 2 * s * s * cout * cout
        cin = cout
    return total


s = a.size
with torch.no_grad():
    content = torch.rand(1, 3, s, s) * 240 - 120
    style = torch.rand(1, 3, s, s) * 240 - 120
    ct = features(content)[CONTENT]
    sf = features(style)
    st = [gram(sf[n]) for n in STYLE]
image = (torch.rand(1, 3, s, s) * 240 - 120).requires_grad_(True)
opt = torch.optim.Adam([image], lr=1.0)


def step():
    opt.zero_grad()
    f = features(image)
    loss = 0.5 * ((f[CONTENT] - ct) ** 2).sum()
    for n, t in zip(STYLE, st):
        loss = loss + 1e3 / len(STYLE) * ((gram(f[n]) - t) ** 2).sum()
    loss.backward()
    opt.step()


for _ in range(a.warmup):
    step()
walls, cpus = [], []
for _ in range(a.iters):
    t0, c0 = time.perf_counter(), time.process_time()
    step()
    walls.append(time.perf_counter() - t0)
    cpus.append(time.process_time() - c0)
walls.sort()
cpus.sort()
print("BENCH " + json.dumps({
    "bench": "gatys-pytorch", "backend": f"pytorch {torch.__version__}", "config": f"{s} px",
    "secondsPerIter": walls[len(walls) // 2], "bestSecondsPerIter": walls[0], "cpuSecondsPerIter": cpus[len(cpus) // 2],
    "gflopPerIter": flops() / 1e9, "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "iterations": a.iters, "engineDetail": f"{a.threads} threads, {torch.__config__.parallel_info().splitlines()[0]}",
    "load1": os.getloadavg()[0],
}), flush=True)

#!/usr/bin/python3
# Rough PyTorch-CPU reference timing for bench_ga: the PointCloudOptimizer loss of dust3r/cloud_opt/optimizer.py
# written out with the same tensor ops (quaternion->matrix as roma does, signed_expm1, pw scale normalisation,
# l1 dist with log-conf weights, Adam betas (0.9, 0.9)), on random data of the bench's shape: 8 views 512x384,
# complete symmetrized graph (56 edges). Not upstream's code (dust3r is not installed here); same op count.
# usage: /usr/bin/python3 bench/bench_ga_torch.py [threads=2] [niter=10]   (reports s/iteration and x300)
import math
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
niter = int(sys.argv[2]) if len(sys.argv) > 2 else 10
torch.set_num_threads(threads)
N, H, W = 8, 384, 512
HW = H * W
pairs = [(i, j) for i in range(N) for j in range(i)]
pairs += [(j, i) for i, j in pairs]
E = len(pairs)
g = torch.Generator().manual_seed(0)
pred_i = torch.randn(E, HW, 3, generator=g) * 0.3 + torch.tensor([0, 0, 2.0])
pred_j = torch.randn(E, HW, 3, generator=g) * 0.3 + torch.tensor([0, 0, 2.0])
w_i = (torch.rand(E, HW, generator=g) * 4 + 1.2).log()
w_j = (torch.rand(E, HW, generator=g) * 4 + 1.2).log()
ei = torch.tensor([i for i, j in pairs])
ej = torch.tensor([j for i, j in pairs])


def quat_pose(p):
    q = p[:, :4] / p[:, :4].norm(dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    R = torch.stack([x * x - y * y - z * z + w * w, 2 * (x * y - z * w), 2 * (x * z + y * w),
                     2 * (x * y + z * w), -x * x + y * y - z * z + w * w, 2 * (y * z - x * w),
                     2 * (x * z - y * w), 2 * (y * z + x * w), -x * x - y * y + z * z + w * w], -1).view(-1, 3, 3)
    t = p[:, 4:7]
    T = torch.sign(t) * torch.expm1(t.abs())
    return R, T


pw = torch.zeros(E, 8)
pw[:, 3] = 1
pw[:, 4:7] = torch.randn(E, 3, generator=g) * 0.01
im = torch.zeros(N, 7)
im[:, 3] = 1
im[:, 4:7] = torch.randn(N, 3, generator=g) * 0.01
dm = torch.full((N, HW), math.log(2.0))
fo = torch.full((N, 1), 20 * math.log(500.0))
params = [torch.nn.Parameter(t) for t in (pw, im, dm, fo)]
pw, im, dm, fo = params
u, v = torch.meshgrid(torch.arange(W, dtype=torch.float32), torch.arange(H, dtype=torch.float32), indexing='xy')
grid = torch.stack((u, v), -1).view(1, HW, 2)
pp = torch.tensor([W / 2, H / 2]).view(1, 1, 2)


def forward():
    R, T = quat_pose(pw)
    s = pw[:, -1].exp() * (math.log(0.5) - pw[:, -1].mean()).exp()
    A = R * s.view(-1, 1, 1)
    b = T * s.view(-1, 1)
    Ri, Ti = quat_pose(im)
    d = dm.exp().unsqueeze(-1)
    f = (fo / 20).exp().view(N, 1, 1)
    xc = torch.cat((d * (grid - pp) / f, d), -1)
    X = xc @ Ri.transpose(1, 2) + Ti.view(N, 1, 3)
    ai = pred_i @ A.transpose(1, 2) + b.view(E, 1, 3)
    aj = pred_j @ A.transpose(1, 2) + b.view(E, 1, 3)
    li = ((X[ei] - ai).norm(dim=-1) * w_i).sum() / (E * HW)
    lj = ((X[ej] - aj).norm(dim=-1) * w_j).sum() / (E * HW)
    return li + lj


opt = torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.9))
forward().backward()  # warm-up
t0 = time.time()
c0 = time.process_time()
for it in range(niter):
    opt.zero_grad()
    loss = forward()
    loss.backward()
    opt.step()
dt = time.time() - t0
dc = time.process_time() - c0
print(f"torch {torch.__version__} threads={threads}: {niter} iterations {dt:.2f} s wall ({dt / niter * 1e3:.0f} ms/iter, "
      f"CPU {dc:.2f} s); x300 = {dt / niter * 300:.1f} s wall, {dc / niter * 300:.1f} s CPU")

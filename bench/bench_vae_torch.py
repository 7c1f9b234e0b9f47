#!/usr/bin/python3
"""PyTorch CPU reference timing for bench/bench_vae.c: the DynamiCrafter KL-VAE (the LDM AutoencoderKL,
ch 128, ch_mult [1, 2, 4, 4], 2 res blocks, z 4, embed 4, one single-head attention in each middle block)
decoding one latent 4x40x64 -> 3x320x512 (post_quant_conv + Decoder) and encoding one 3x320x512 frame
(Encoder + quant_conv -> moments). Written with plain torch.nn ops (our own re-statement of the
architecture, not the upstream code), default torch random init, torch.no_grad, float32.

    /usr/bin/python3 bench/bench_vae_torch.py [--threads 2] [--runs 1] [--warmup 1] [--small]

--small: ch 32, ch_mult [1, 2, 2, 2] (the same as bench_vae --small).
GFLOP counted as bench_vae counts it (convs and attention matmuls; a multiply-add = 2).

--small sanity check: 1.7M parameters and 64.3 / 31.1 GFLOP (decode / encode) here and in bench_vae --small.

Measured 2026-11-27 07:14-07:16 UTC, back to back on the 2-core dev machine (shared with other agents:
noisy), 2 threads each, one decode and one encode:

| KL-VAE, 320x512 frame | bench_vae (ours, avx512, no warm-up) | this script (PyTorch 1.13 CPU, f32, 1 warm-up) |
| --- | --- | --- |
| load average before the run (1/5/15 min) | 1.90 1.64 2.62 | 2.64 1.83 2.66 |
| parameters | 83.7M | 83.7M |
| decode 4x40x64 -> 3x320x512: wall / CPU time | 13.29 s / 13.23 s | 23.06 s / 34.29 s |
| decode: GFLOP, GFLOP/s (wall) | 1563.5, 117.6 | 1563.5, 67.8 |
| encode 3x320x512: wall / CPU time | 5.42 s / 5.40 s | 18.11 s / 18.29 s |
| encode: GFLOP, GFLOP/s (wall) | 689.9, 127.4 | 689.9, 38.1 |
| peak RSS (whole run) | 0.80 GiB | 1.32 GiB |
| PyTorch / ours (wall) | | decode 1.74x, encode 3.34x |
"""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FLOPS = [0.0]


def count_conv(mod, inp, out):
    k = mod.kernel_size[0] * mod.kernel_size[1]
    FLOPS[0] += 2.0 * mod.in_channels * k * out.numel()


class Res(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, cin, eps=1e-6), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(32, cout, eps=1e-6), nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if self.nin_shortcut is not None else x) + h


class Attn(nn.Module):
    """AttnBlock: GroupNorm, 1x1 q/k/v, one head over all h*w positions, 1x1 proj, residual."""

    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(32, c, eps=1e-6)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.norm(x)
        q = self.q(y).reshape(b, c, h * w).transpose(1, 2)
        k = self.k(y).reshape(b, c, h * w)
        v = self.v(y).reshape(b, c, h * w)
        FLOPS[0] += 4.0 * b * (h * w) * (h * w) * c
        a = torch.bmm(q * c ** -0.5, k).softmax(dim=-1)  # (b, hw_q, hw_k)
        o = torch.bmm(v, a.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj_out(o)


class Down(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Up(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    def __init__(self, ch, mult, nres, z, in_ch=3):
        super().__init__()
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        layers, cin = [], ch
        for i, m in enumerate(mult):
            for _ in range(nres):
                layers.append(Res(cin, ch * m))
                cin = ch * m
            if i != len(mult) - 1:
                layers.append(Down(cin))
        self.down = nn.Sequential(*layers)
        self.mid = nn.Sequential(Res(cin, cin), Attn(cin), Res(cin, cin))
        self.norm_out, self.conv_out = nn.GroupNorm(32, cin, eps=1e-6), nn.Conv2d(cin, 2 * z, 3, padding=1)

    def forward(self, x):
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch, mult, nres, z, out_ch=3):
        super().__init__()
        cin = ch * mult[-1]
        self.conv_in = nn.Conv2d(z, cin, 3, padding=1)
        self.mid = nn.Sequential(Res(cin, cin), Attn(cin), Res(cin, cin))
        layers = []
        for i in reversed(range(len(mult))):
            for _ in range(nres + 1):
                layers.append(Res(cin, ch * mult[i]))
                cin = ch * mult[i]
            if i != 0:
                layers.append(Up(cin))
        self.up = nn.Sequential(*layers)
        self.norm_out, self.conv_out = nn.GroupNorm(32, cin, eps=1e-6), nn.Conv2d(cin, out_ch, 3, padding=1)

    def forward(self, z):
        h = self.up(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


class VAE(nn.Module):
    def __init__(self, ch=128, mult=(1, 2, 4, 4), nres=2, z=4, embed=4):
        super().__init__()
        self.encoder, self.decoder = Encoder(ch, mult, nres, z), Decoder(ch, mult, nres, z)
        self.quant_conv, self.post_quant_conv = nn.Conv2d(2 * z, 2 * embed, 1), nn.Conv2d(embed, z, 1)

    def encode(self, x):  # -> moments (B, 2 embed, H/8, W/8)
        return self.quant_conv(self.encoder(x))

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


def bench(name, fn, arg, runs, warmup):
    for _ in range(warmup):
        fn(arg)
    best, best_cpu, fl = 1e30, 1e30, 0.0
    for _ in range(runs):
        FLOPS[0] = 0.0
        w0, c0 = time.time(), time.process_time()
        y = fn(arg)
        best = min(best, time.time() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
        fl = FLOPS[0]
    print(f"| {name}: best of {runs} (after {warmup} warm-up) | {best:.2f} s |")
    print(f"| {name}: CPU time (all threads), best | {best_cpu:.2f} s |")
    print(f"| {name}: GFLOP | {fl / 1e9:.1f} |")
    print(f"| {name}: GFLOP/s (wall) | {fl / 1e9 / best:.1f} |")
    print(f"| {name}: GFLOP/s per busy core (CPU time) | {fl / 1e9 / best_cpu:.1f} |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"| {name}: peak RSS so far | {rss / (1 << 30):.2f} GiB |")
    return y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--small", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ch, mult = (32, (1, 2, 2, 2)) if a.small else (128, (1, 2, 4, 4))
    t0 = time.time()
    vae = VAE(ch, mult).eval()
    t_make = time.time() - t0
    for m in vae.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(count_conv)
    n_params = sum(p.numel() for p in vae.parameters())
    H, W = 320, 512
    img = torch.rand(1, 3, H, W) * 2 - 1
    z = torch.rand(1, 4, H // 8, W // 8) * 2 - 1
    print(f"bench_vae_torch: {'tiny (smoke)' if a.small else 'DynamiCrafter-512'} KL-VAE, ch {ch}, ch_mult "
          f"[{' '.join(map(str, mult))}], 2 res blocks, {n_params / 1e6:.1f}M params (float32), frame {W}x{H}, "
          f"{a.threads} threads, PyTorch {torch.__version__} CPU")
    print("| metric | value |\n|---|---|")
    print(f"| model construction (default init) | {t_make:.2f} s |")
    with torch.no_grad():
        y = bench("decode 4x40x64 -> 3x320x512", vae.decode, z, a.runs, a.warmup)
        m = bench("encode 3x320x512", vae.encode, img, a.runs, a.warmup)
    print(f"(checksums {y.double().sum().item():.6g} {m.double().sum().item():.6g})")


if __name__ == "__main__":
    main()

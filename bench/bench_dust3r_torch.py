#!/usr/bin/python3
"""PyTorch CPU reference timing for bench/bench_dust3r.c: the DUSt3R ViT-L/512 DPT forward
(AsymmetricCroCo3DStereo: RoPE2D encoder, two cross-attending decoders, two DPT heads, exp
post-processing) on one 512x384 pair, written with torch.nn ops (our own small re-statement of the
architecture, not the upstream code), default random init, no_grad, float32.

    /usr/bin/python3 bench/bench_dust3r_torch.py [--threads 2] [--runs 1] [--small] [--mast3r]

--mast3r: the MASt3R head (catmlp+dpt: a local-feature MLP 2048 -> 7168 -> 6400 over [encoder | last decoder]
tokens per view, pixel shuffle, normalised 24-dim descriptors, desc_conf) and then the reciprocal matching
as mast3r's demo runs it on the CPU (grid queries every 8 pixels, brute-force dot-product NN in 8192-row
blocks, at most 10 forward/backward rounds), again our own torch code.
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RoPE2D(nn.Module):
    def __init__(self, base=100.0):
        super().__init__()
        self.base = base

    def rope1d(self, t, pos):  # t (B, H, N, d), pos (B, N)
        d = t.shape[-1]
        inv = 1.0 / (self.base ** (torch.arange(0, d, 2).float() / d))
        ang = pos[:, None, :, None].float() * inv  # (B, 1, N, d/2)
        ang = torch.cat((ang, ang), dim=-1)
        rot = torch.cat((-t[..., d // 2:], t[..., :d // 2]), dim=-1)
        return t * ang.cos() + rot * ang.sin()

    def forward(self, t, pos):
        y, x = t.chunk(2, dim=-1)
        return torch.cat((self.rope1d(y, pos[:, :, 0]), self.rope1d(x, pos[:, :, 1])), dim=-1)


class Attn(nn.Module):
    def __init__(self, dim, heads, rope, cross=False):
        super().__init__()
        self.h, self.rope, self.cross = heads, rope, cross
        if cross:
            self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, xpos, y=None, ypos=None):
        B, N, C = x.shape
        hd = C // self.h
        if self.cross:
            M = y.shape[1]
            q = self.q(x).reshape(B, N, self.h, hd).transpose(1, 2)
            k = self.k(y).reshape(B, M, self.h, hd).transpose(1, 2)
            v = self.v(y).reshape(B, M, self.h, hd).transpose(1, 2)
            kpos = ypos
        else:
            qkv = self.qkv(x).reshape(B, N, 3, self.h, hd).transpose(1, 3)
            q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
            kpos = xpos
        q, k = self.rope(q, xpos), self.rope(k, kpos)
        a = ((q @ k.transpose(-2, -1)) * hd ** -0.5).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, N, C))


def mlp(dim):
    return nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))


class Block(nn.Module):
    def __init__(self, dim, heads, rope):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn, self.mlp = Attn(dim, heads, rope), mlp(dim)

    def forward(self, x, pos):
        x = x + self.attn(self.n1(x), pos)
        return x + self.mlp(self.n2(x))


class DecBlock(nn.Module):
    def __init__(self, dim, heads, rope):
        super().__init__()
        self.n1, self.n2, self.n3, self.ny = [nn.LayerNorm(dim, eps=1e-6) for _ in range(4)]
        self.attn, self.cross, self.mlp = Attn(dim, heads, rope), Attn(dim, heads, rope, cross=True), mlp(dim)

    def forward(self, x, y, xpos, ypos):
        x = x + self.attn(self.n1(x), xpos)
        y_ = self.ny(y)
        x = x + self.cross(self.n2(x), xpos, y_, ypos)
        return x + self.mlp(self.n3(x))


class RCU(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(f, f, 3, 1, 1), nn.Conv2d(f, f, 3, 1, 1)

    def forward(self, x):
        return x + self.c2(F.relu(self.c1(F.relu(x))))


class Fusion(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.r1, self.r2, self.out = RCU(f), RCU(f), nn.Conv2d(f, f, 1)

    def forward(self, *xs):
        o = xs[0]
        if len(xs) == 2:
            o = o + self.r1(xs[1])
        o = F.interpolate(self.r2(o), scale_factor=2, mode="bilinear", align_corners=True)
        return self.out(o)


class DPT(nn.Module):
    def __init__(self, dims, ld=(96, 192, 384, 768), f=256, last=128, hooks=(0, 6, 9, 12)):
        super().__init__()
        self.hooks = hooks
        self.act = nn.ModuleList([
            nn.Sequential(nn.Conv2d(dims[0], ld[0], 1), nn.ConvTranspose2d(ld[0], ld[0], 4, 4)),
            nn.Sequential(nn.Conv2d(dims[1], ld[1], 1), nn.ConvTranspose2d(ld[1], ld[1], 2, 2)),
            nn.Sequential(nn.Conv2d(dims[2], ld[2], 1)),
            nn.Sequential(nn.Conv2d(dims[3], ld[3], 1), nn.Conv2d(ld[3], ld[3], 3, 2, 1))])
        self.rn = nn.ModuleList([nn.Conv2d(ld[k], f, 3, 1, 1, bias=False) for k in range(4)])
        self.ref = nn.ModuleList([Fusion(f) for _ in range(4)])
        self.head = nn.Sequential(nn.Conv2d(f, f // 2, 3, 1, 1), nn.Upsample(scale_factor=2, mode="bilinear",
                                  align_corners=True), nn.Conv2d(f // 2, last, 3, 1, 1), nn.ReLU(True),
                                  nn.Conv2d(last, 4, 1))

    def forward(self, toks, hp, wp):
        L = [toks[h].transpose(1, 2).reshape(1, -1, hp, wp) for h in self.hooks]
        L = [self.rn[k](self.act[k](L[k])) for k in range(4)]
        p4 = self.ref[3](L[3])[:, :, :L[2].shape[2], :L[2].shape[3]]
        p3 = self.ref[2](p4, L[2])
        p2 = self.ref[1](p3, L[1])
        p1 = self.ref[0](p2, L[0])
        return self.head(p1)


def post(raw):
    f = raw.permute(0, 2, 3, 1)
    xyz = f[..., :3]
    d = xyz.norm(dim=-1, keepdim=True)
    return xyz / d.clip(min=1e-8) * torch.expm1(d), 1 + f[..., 3].exp()


class LocalFeatures(nn.Module):  # the catmlp half of MASt3R's head: 24 desc + 1 conf channels per pixel
    def __init__(self, E, D, desc=24, patch=16):
        super().__init__()
        self.p, self.desc = patch, desc
        self.fc1, self.fc2 = nn.Linear(E + D, 4 * (E + D)), nn.Linear(4 * (E + D), (desc + 1) * patch * patch)

    def forward(self, enc, dec, hp, wp):
        x = self.fc2(F.gelu(self.fc1(torch.cat((enc, dec), -1))))  # (1, N, 25 p^2)
        x = F.pixel_shuffle(x.transpose(1, 2).reshape(1, -1, hp, wp), self.p).permute(0, 2, 3, 1)
        d = x[..., :self.desc]
        return d / d.norm(dim=-1, keepdim=True), x[..., self.desc].exp()


def nn_dot(q, db, block=8192):  # argmax of q @ db.T, db swept in blocks (the lower index wins ties)
    best = torch.full((len(q),), -float("inf"))
    idx = torch.full((len(q),), -1, dtype=torch.int64)
    for i in range(0, len(q), block):
        for j in range(0, len(db), block):
            s, k = (q[i:i + block] @ db[j:j + block].T).max(dim=1)
            m = s > best[i:i + block]
            best[i:i + block][m] = s[m]
            idx[i:i + block][m] = k[m] + j
    return idx


def reciprocal(d1, d2, sub=8):
    H, W, C = d1.shape
    a, b = d1.reshape(-1, C), d2.reshape(-1, C)
    yy, xx = torch.meshgrid(torch.arange(sub // 2, H, sub), torch.arange(sub // 2, W, sub), indexing="ij")
    xy1 = (xx + W * yy).flatten()
    xy2 = torch.full_like(xy1, -1)
    old1, old2 = xy1.clone(), xy2.clone()
    todo = torch.ones(len(xy1), dtype=torch.bool)
    for _ in range(10):
        xy2[todo] = nn_dot(a[xy1[todo]], b)
        todo &= old2 != xy2
        if todo.any():
            xy1[todo] = nn_dot(b[xy2[todo]], a)
        todo &= old1 != xy1
        if not todo.any():
            break
        old1[:], old2[:] = xy1, xy2
    return torch.unique(xy1[~todo] * (1 << 32) + xy2[~todo]).numel()


class Dust3r(nn.Module):
    def __init__(self, E=1024, Ed=24, Eh=16, D=768, Dd=12, Dh=12, mast3r=False):
        super().__init__()
        self.loc = nn.ModuleList([LocalFeatures(E, D), LocalFeatures(E, D)]) if mast3r else None
        rope = RoPE2D(100.0)
        self.patch = nn.Conv2d(3, E, 16, 16)
        self.enc = nn.ModuleList([Block(E, Eh, rope) for _ in range(Ed)])
        self.enc_norm = nn.LayerNorm(E, eps=1e-6)
        self.dec_embed = nn.Linear(E, D)
        self.dec1 = nn.ModuleList([DecBlock(D, Dh, rope) for _ in range(Dd)])
        self.dec2 = nn.ModuleList([DecBlock(D, Dh, rope) for _ in range(Dd)])
        self.dec_norm = nn.LayerNorm(D, eps=1e-6)
        hooks = (0, Dd * 2 // 4, Dd * 3 // 4, Dd)
        self.h1, self.h2 = DPT([E, D, D, D], hooks=hooks), DPT([E, D, D, D], hooks=hooks)

    def forward(self, img1, img2):
        B, _, H, W = img1.shape
        hp, wp = H // 16, W // 16
        x = self.patch(torch.cat((img1, img2))).flatten(2).transpose(1, 2)
        yy, xx = torch.meshgrid(torch.arange(hp), torch.arange(wp), indexing="ij")
        pos = torch.stack((yy.flatten(), xx.flatten()), -1)[None].expand(2 * B, -1, -1)
        for b in self.enc:
            x = b(x, pos)
        x = self.enc_norm(x)
        e1, e2 = x.chunk(2)
        p1, p2 = pos[:B], pos[B:]
        f1, f2 = self.dec_embed(e1), self.dec_embed(e2)
        o1, o2 = [e1], [e2]
        for b1, b2 in zip(self.dec1, self.dec2):
            f1, f2 = b1(f1, f2, p1, p2), b2(f2, f1, p2, p1)
            o1.append(f1)
            o2.append(f2)
        o1[-1], o2[-1] = self.dec_norm(o1[-1]), self.dec_norm(o2[-1])
        r1, r2 = post(self.h1(o1, hp, wp)), post(self.h2(o2, hp, wp))
        if self.loc is not None:
            r1, r2 = r1 + self.loc[0](e1, o1[-1], hp, wp), r2 + self.loc[1](e2, o2[-1], hp, wp)
        return r1, r2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--small", action="store_true", help="ViT-S-sized smoke run (matches bench_dust3r --small)")
    ap.add_argument("--mast3r", action="store_true", help="MASt3R's catmlp+dpt head and the matching")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.time()
    net = Dust3r(384, 12, 6, 384, 12, 6, mast3r=a.mast3r) if a.small else Dust3r(mast3r=a.mast3r)
    net.eval()
    t_make = time.time() - t0
    nparam = sum(p.numel() for p in net.parameters())
    img1 = torch.sin(0.001 * torch.arange(3 * 384 * 512, dtype=torch.float32)).reshape(1, 3, 384, 512)
    img2 = torch.sin(0.002 * torch.arange(3 * 384 * 512, dtype=torch.float32)).reshape(1, 3, 384, 512)
    best, first, best_cpu, best_match, n_match = 1e30, 0, 1e30, 1e30, 0
    with torch.no_grad():
        for r in range(a.runs):
            t0, c0 = time.time(), time.process_time()
            out1, out2 = net(img1, img2)
            pts2 = out2[0]
            t = time.time() - t0
            best_cpu = min(best_cpu, time.process_time() - c0)
            first = t if r == 0 else first
            best = min(best, t)
            if a.mast3r:
                t0 = time.time()
                n_match = reciprocal(out1[2][0], out2[2][0])
                best_match = min(best_match, time.time() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"bench_dust3r_torch: torch {torch.__version__}, {nparam / 1e6:.1f}M params, pair 512x384, "
          f"{a.threads} threads, out {tuple(pts2.shape)}")
    print("| metric | value |\n|---|---|")
    print(f"| model construction | {t_make:.2f} s |")
    print(f"| forward, first run | {first:.2f} s |")
    print(f"| forward, best of {a.runs} | {best:.2f} s |")
    print(f"| forward CPU time (all threads), best | {best_cpu:.2f} s |")
    if a.mast3r:
        print(f"| reciprocal matching (subsample 8, {n_match} matches), best | {best_match:.2f} s |")
    print(f"| peak RSS | {rss / 2**30:.2f} GiB |")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch CPU reference timing for bench/bench_unet.c: one forward of the DynamiCrafter-512 interp 3-D
UNet (openaimodel3d.py UNetModel: ResBlocks with temporal convolutions, SpatialTransformer with image
cross-attention, TemporalTransformer, init_attn, fs embedding) at B 1, 16 frames, 40x64 latent, 8 -> 4
channels, model_channels 320, channel_mult [1, 2, 4, 4], 2 res blocks, 64-dim heads, context 77 + 16*16
tokens of 1024. Written with plain torch.nn ops (our own re-statement of the architecture, not the
upstream code), default torch random init, torch.no_grad, float32 weights and activations (PyTorch CPU
has no fast bf16 GEMM on this machine; bench_unet stores its weights as bf16 and computes in f32).
Attention runs in chunks of (batch*heads) so the (N, N) score matrix of the 2560-token spatial attention
never holds all 80 heads at once; this bounds memory without changing the FLOPs.

    /usr/bin/python3 bench/bench_unet_torch.py [--threads 2] [--runs 1] [--frames 16] [--small]

--small: model_channels 64, 8 frames, 16x24 latent (the same as bench_unet --small).
The GFLOP figure is counted here the same way bench_unet counts it (convs, linears, attention matmuls;
a multiply-add = 2).

--small sanity check: parameters 0.071 G here and in bench_unet --small; GFLOP (bench_unet's count) 71.1
in both. Weights differ (torch default init vs bench_unet's generator), so outputs are not compared.

Measured 2026-11-27 06:54-07:11 UTC, back to back on the 2-core dev machine (shared with other agents'
builds/tests: the load average is given before each run; timings are noisy), 2 threads each, one forward:

| UNet forward, 16x40x64, mc 320 | bench_unet (ours, bf16 weights, f32 math, avx512) | this script (PyTorch 1.13 CPU, f32) |
| --- | --- | --- |
| load average before the run (1/5/15 min) | 2.93 2.95 3.94 | 3.47 3.31 3.84 |
| parameters | 1.439 G | 1.439 G |
| warm-up | none (first forward, incl. arena sizing) | 1 forward, 334.45 s |
| wall, timed forward | 147.22 s | 297.42 s |
| CPU time (all threads) | 123.55 s | 565.65 s |
| GFLOP (bench_unet's count) | 12543.0 | 12543.8 (12602.8 executed) |
| GFLOP/s (wall) | 85.2 | 42.2 |
| peak RSS | 3.63 GiB | 8.11 GiB |
| PyTorch / ours | | wall 2.02x, CPU time 4.58x |

(The 0.8 GFLOP difference: per-ResBlock emb projections run on the 16 repeated frame rows here, once in
bench_unet. PyTorch's 565.65 CPU s include much kernel time: /usr/bin/time gave 709 s user + 412 s sys
for the whole process, 43 M minor page faults.)
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FLOPS = [0.0]
# Upstream repeats the 77 text tokens for every frame before to_k / to_v, so their projections run T times;
# bench_unet projects them once per batch. REDUNDANT counts the (T - 1) extra copies so that the GFLOP/s
# figure can use the same useful-work count as bench_unet.
REDUNDANT = [0.0]
FRAMES = [1]


def count_linear(mod, inp, out):
    FLOPS[0] += 2.0 * mod.in_features * out.numel()


def count_conv(mod, inp, out):
    k = 1
    for s in mod.kernel_size:
        k *= s
    FLOPS[0] += 2.0 * (mod.in_channels // mod.groups) * k * out.numel()


def attention(q, k, v, heads, chunk_elems=1 << 26):
    """q (B, N, heads*d), k/v (B, M, heads*d) -> (B, N, heads*d); softmax(q k^T / sqrt(d)) v."""
    B, N, C = q.shape
    M = k.shape[1]
    d = C // heads
    FLOPS[0] += 4.0 * B * heads * N * M * d
    q = q.reshape(B, N, heads, d).transpose(1, 2).reshape(B * heads, N, d)
    k = k.reshape(B, M, heads, d).transpose(1, 2).reshape(B * heads, M, d)
    v = v.reshape(B, M, heads, d).transpose(1, 2).reshape(B * heads, M, d)
    scale = d ** -0.5
    out = torch.empty_like(q)
    step = max(1, chunk_elems // (N * M))
    for i in range(0, B * heads, step):
        s = torch.bmm(q[i:i + step] * scale, k[i:i + step].transpose(1, 2)).softmax(dim=-1)
        torch.bmm(s, v[i:i + step], out=out[i:i + step])
    return out.reshape(B, heads, N, d).transpose(1, 2).reshape(B, N, C)


class Attn(nn.Module):
    """attention.py CrossAttention; with ctx_dim and image tokens: text + image_cross_attention_scale * image."""

    def __init__(self, dim, ctx_dim, heads, image_ca=False, text_len=77):
        super().__init__()
        cd = ctx_dim or dim
        self.heads, self.image_ca, self.text_len = heads, image_ca, text_len
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(cd, dim, bias=False)
        self.to_v = nn.Linear(cd, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        if image_ca:
            self.to_k_ip = nn.Linear(cd, dim, bias=False)
            self.to_v_ip = nn.Linear(cd, dim, bias=False)

    def forward(self, x, ctx=None):
        q = self.to_q(x)
        if ctx is None:
            ctx = x
        if self.image_ca:
            txt, img = ctx[:, :self.text_len], ctx[:, self.text_len:]
            nb = txt.shape[0]
            REDUNDANT[0] += 2 * 2.0 * (nb - nb // FRAMES[0]) * self.text_len * txt.shape[2] * q.shape[2]
            out = attention(q, self.to_k(txt), self.to_v(txt), self.heads)
            out = out + 1.0 * attention(q, self.to_k_ip(img), self.to_v_ip(img), self.heads)
        else:
            out = attention(q, self.to_k(ctx), self.to_v(ctx), self.heads)
        return self.to_out(out)


class Block(nn.Module):
    """BasicTransformerBlock: self-attn, cross-attn (self when no context), GEGLU feed-forward."""

    def __init__(self, dim, heads, ctx_dim):
        super().__init__()
        self.attn1 = Attn(dim, None, heads)
        self.attn2 = Attn(dim, ctx_dim, heads, image_ca=ctx_dim is not None)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff_proj = nn.Linear(dim, 8 * dim)
        self.ff_out = nn.Linear(4 * dim, dim)

    def forward(self, x, ctx=None):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), ctx) + x
        a, g = self.ff_proj(self.norm3(x)).chunk(2, dim=-1)
        return self.ff_out(a * F.gelu(g)) + x


class Spatial(nn.Module):
    """SpatialTransformer (use_linear): per frame over h*w tokens, cross-attention to the per-frame context."""

    def __init__(self, c, ctx_dim, head_ch):
        super().__init__()
        self.norm = nn.GroupNorm(32, c, eps=1e-6)
        self.proj_in, self.proj_out = nn.Linear(c, c), nn.Linear(c, c)
        self.block = Block(c, c // head_ch, ctx_dim)

    def forward(self, x, ctx, T):  # x ((b t), c, h, w)
        n, c, h, w = x.shape
        y = self.norm(x).permute(0, 2, 3, 1).reshape(n, h * w, c)
        y = self.proj_out(self.block(self.proj_in(y), ctx))
        return y.reshape(n, h, w, c).permute(0, 3, 1, 2) + x


class Temporal(nn.Module):
    """TemporalTransformer (self-attention only) over the T frames of each pixel. conv1d: init_attn's
    Conv1d(k=1) projections with inner = heads * head_ch; otherwise Linear projections, inner = c."""

    def __init__(self, c, heads, head_ch, conv1d=False):
        super().__init__()
        inner = heads * head_ch
        self.conv1d = conv1d
        self.norm = nn.GroupNorm(32, c, eps=1e-6)
        if conv1d:
            self.proj_in, self.proj_out = nn.Conv1d(c, inner, 1), nn.Conv1d(inner, c, 1)
        else:
            self.proj_in, self.proj_out = nn.Linear(c, inner), nn.Linear(inner, c)
        self.block = Block(inner, heads, None)

    def forward(self, x, ctx, T):  # x ((b t), c, h, w)
        n, c, h, w = x.shape
        b = n // T
        x5 = x.reshape(b, T, c, h, w).transpose(1, 2)  # (b, c, t, h, w)
        y = self.norm(x5).permute(0, 3, 4, 1, 2).reshape(b * h * w, c, T)  # (b h w, c, t)
        if self.conv1d:
            y = self.proj_in(y).transpose(1, 2)
            y = self.block(y)
            y = self.proj_out(y.transpose(1, 2))  # (bhw, c, t)
        else:
            y = self.proj_out(self.block(self.proj_in(y.transpose(1, 2)))).transpose(1, 2)
        y = y.reshape(b, h, w, c, T).permute(0, 4, 3, 1, 2).reshape(n, c, h, w)
        return y + x


class TConv(nn.Module):
    """TemporalConvBlock: 4 x (GroupNorm, SiLU, Conv3d (3, 1, 1)), residual."""

    def __init__(self, c):
        super().__init__()
        self.norms = nn.ModuleList([nn.GroupNorm(32, c) for _ in range(4)])
        self.convs = nn.ModuleList([nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0)) for _ in range(4)])

    def forward(self, x):  # (b, c, t, h, w)
        y = x
        for n, cv in zip(self.norms, self.convs):
            y = cv(F.silu(n(y)))
        return x + y


class Res(nn.Module):
    def __init__(self, cin, cout, ted):
        super().__init__()
        self.gn1, self.conv1 = nn.GroupNorm(32, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(ted, cout)
        self.gn2, self.conv2 = nn.GroupNorm(32, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.tconv = TConv(cout)

    def forward(self, x, emb, T):
        h = self.conv1(F.silu(self.gn1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.gn2(h)))
        h = (self.skip(x) if self.skip is not None else x) + h
        n, c, hh, ww = h.shape
        h5 = h.reshape(n // T, T, c, hh, ww).transpose(1, 2)
        return self.tconv(h5).transpose(1, 2).reshape(n, c, hh, ww)


class Down(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.op = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Up(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Seq(nn.ModuleList):
    def forward(self, x, emb, ctx, T):
        for m in self:
            if isinstance(m, Res):
                x = m(x, emb, T)
            elif isinstance(m, (Spatial, Temporal)):
                x = m(x, ctx, T)
            else:
                x = m(x)
        return x


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    a = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)


class UNet(nn.Module):
    def __init__(self, in_ch=8, out_ch=4, mc=320, mult=(1, 2, 4, 4), nres=2, head_ch=64, ctx_dim=1024,
                 init_heads=8, text_len=77, img_tokens=16):
        super().__init__()
        ted = 4 * mc
        self.mc, self.text_len, self.img_tokens = mc, text_len, img_tokens
        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        self.fps_embedding = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        self.conv_in = nn.Conv2d(in_ch, mc, 3, padding=1)
        self.init_attn = Temporal(mc, init_heads, head_ch, conv1d=True)
        self.input_blocks = nn.ModuleList()
        chans, ch = [mc], mc
        nl = len(mult)
        for lev, m in enumerate(mult):
            for _ in range(nres):
                layers = [Res(ch, m * mc, ted)]
                ch = m * mc
                if lev < nl - 1:
                    layers += [Spatial(ch, ctx_dim, head_ch), Temporal(ch, ch // head_ch, head_ch)]
                self.input_blocks.append(Seq(layers))
                chans.append(ch)
            if lev != nl - 1:
                self.input_blocks.append(Seq([Down(ch)]))
                chans.append(ch)
        self.middle = Seq([Res(ch, ch, ted), Spatial(ch, ctx_dim, head_ch), Temporal(ch, ch // head_ch, head_ch),
                           Res(ch, ch, ted)])
        self.output_blocks = nn.ModuleList()
        for lev in reversed(range(nl)):
            for i in range(nres + 1):
                layers = [Res(ch + chans.pop(), mult[lev] * mc, ted)]
                ch = mult[lev] * mc
                if lev < nl - 1:
                    layers += [Spatial(ch, ctx_dim, head_ch), Temporal(ch, ch // head_ch, head_ch)]
                if lev and i == nres:
                    layers.append(Up(ch))
                self.output_blocks.append(Seq(layers))
        self.out_gn, self.out_conv = nn.GroupNorm(32, ch), nn.Conv2d(mc, out_ch, 3, padding=1)

    def forward(self, x, ts, context, fs):  # x (b, c, t, h, w), context (b, 77 + 16 t, D)
        b, _, T, H, W = x.shape
        FRAMES[0] = T
        emb = self.time_embed(timestep_embedding(ts, self.mc))
        emb = emb + self.fps_embedding(timestep_embedding(fs, self.mc))
        emb = emb.repeat_interleave(T, dim=0)
        if context.shape[1] == self.text_len + T * self.img_tokens:  # per-frame image tokens
            txt = context[:, :self.text_len].repeat_interleave(T, dim=0)
            img = context[:, self.text_len:].reshape(b * T, self.img_tokens, -1)
            ctx = torch.cat([txt, img], dim=1)
        else:
            ctx = context.repeat_interleave(T, dim=0)
        h = x.transpose(1, 2).reshape(b * T, -1, H, W)
        h = self.conv_in(h)
        h = self.init_attn(h, None, T)
        hs = [h]
        for blk in self.input_blocks:
            h = blk(h, emb, ctx, T)
            hs.append(h)
        h = self.middle(h, emb, ctx, T)
        for blk in self.output_blocks:
            h = blk(torch.cat([h, hs.pop()], dim=1), emb, ctx, T)
        y = self.out_conv(F.silu(self.out_gn(h)))
        return y.reshape(b, T, -1, H, W).transpose(1, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=1, help="untimed forwards first (default 1)")
    ap.add_argument("--small", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    T, H, W, mc = a.frames, 40, 64, 320
    if a.small:
        T, H, W, mc = min(T, 8), 16, 24, 64
    t0 = time.time()
    net = UNet(mc=mc).eval()
    t_create = time.time() - t0
    for m in net.modules():
        if isinstance(m, nn.Linear):
            m.register_forward_hook(count_linear)
        elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            m.register_forward_hook(count_conv)
    n_params = sum(p.numel() for p in net.parameters())
    L, D = 77 + 16 * T, 1024
    x = torch.rand(1, 8, T, H, W) * 2 - 1
    ctx = torch.rand(1, L, D) * 2 - 1
    ts, fs = torch.tensor([999]), torch.tensor([5])
    with torch.no_grad():
        t0 = time.time()
        for _ in range(a.warmup):
            net(x, ts, ctx, fs)
        t_warm = time.time() - t0
        best, best_cpu = 1e30, 1e30
        for _ in range(a.runs):
            FLOPS[0] = REDUNDANT[0] = 0.0
            w0, c0 = time.time(), time.process_time()
            y = net(x, ts, ctx, fs)
            best = min(best, time.time() - w0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    fl = FLOPS[0] - REDUNDANT[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(f"| UNet forward {'(small)' if a.small else '(real 512-interp size)'}: B 1, T {T}, latent {H}x{W}, "
          f"mc {mc}, mult [1 2 4 4], ctx {L} x {D} |  |")
    print(f"| PyTorch {torch.__version__} CPU, threads | {a.threads} |")
    print(f"| parameters (float32) | {n_params / 1e9:.3f} G |")
    print(f"| model construction (default init) | {t_create:.1f} s |")
    print(f"| warm-up forwards ({a.warmup}) | {t_warm:.2f} s |")
    print(f"| best of {a.runs} | {best:.2f} s |")
    print(f"| CPU time (all threads), best | {best_cpu:.2f} s |")
    print(f"| GFLOP executed (text K/V projected per frame, as upstream) | {FLOPS[0] / 1e9:.1f} |")
    print(f"| GFLOP (counted as bench_unet: convs, linears, attention; text K/V once) | {fl / 1e9:.1f} |")
    print(f"| GFLOP/s (wall) | {fl / 1e9 / best:.1f} |")
    print(f"| peak RSS | {rss / (1 << 30):.2f} GiB |")
    print(f"(checksum {y.double().sum().item():.6g}, output {tuple(y.shape)})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/gpu/twin.py: the PyTorch twins of strata's v1 and v2 autoencoders, timed like
bench/gpu/bench.cu so check.sh can set the two side by side.

    python3 bench/gpu/twin.py [--arch v1,v2] [--batch 64,128,256] [--precision fp32,tf32,bf16]
                              [--steps 20] [--warmup 5] [--layout nhwc|nchw] [--ahead on|off] [--profile]

Same layers as examples/inpainting/architectures.hpp (3x3 same convolutions, ReLU, 2x2 max
pooling, nearest upsampling, sigmoid), Adam (Keras' epsilon 1e-7), BCE against the input,
channels_last, cudnn.benchmark on. Each step copies its batch from pinned host memory and reads
the loss, as strata's train_step does; with --ahead on (the default, as strata_gpu_bench's) the
next batch is sent on a side stream while the step computes (the usual PyTorch prefetcher: a
non_blocking copy on another stream, waited for by the step that uses it), as strata's
Model::upload_ahead does; --ahead off copies each batch at the start of its own step. fp32 turns TF32 off everywhere; tf32 turns it on; bf16 is
autocast to bfloat16 with fp32 master weights (the loss in fp32). Prints CSV rows:
    step,ARCH,BATCH,PRECISION,IMG_PER_S,MS_PER_STEP
with the median step time, and a comment line with the parameter counts (v1 must be 195,619).
--layout nchw keeps PyTorch's default layout (NCHW, the one strata's GPU backend uses) instead of
channels_last; --profile prints the timed steps' kernels (torch.profiler) to stderr.
"""
import argparse
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding="same"), nn.ReLU(inplace=True)]


def repeat(n, cin, cout):
    layers = conv_relu(cin, cout)
    for _ in range(n - 1):
        layers += conv_relu(cout, cout)
    return layers


def up():
    return nn.Upsample(scale_factor=2, mode="nearest")


def v1():
    return nn.Sequential(*repeat(2, 3, 32), nn.MaxPool2d(2), *repeat(1, 32, 64), nn.MaxPool2d(2),
                         *repeat(1, 64, 128), up(), *repeat(1, 128, 64), up(), *repeat(1, 64, 32),
                         nn.Conv2d(32, 3, 3, padding="same"), nn.Sigmoid())


def v2():
    return nn.Sequential(*repeat(4, 3, 32), nn.MaxPool2d(2), *repeat(2, 32, 64), nn.MaxPool2d(2),
                         *repeat(2, 64, 128), up(), *repeat(2, 128, 64), up(), *repeat(3, 64, 32),
                         nn.Conv2d(32, 3, 3, padding="same"), nn.Sigmoid())


def synthetic(batch, seed):
    g = torch.Generator().manual_seed(seed)
    fx = 0.2 + 0.6 * torch.rand(batch, 1, 1, 1, generator=g)
    fy = 0.2 + 0.6 * torch.rand(batch, 1, 1, 1, generator=g)
    phase = 6.28 * torch.rand(batch, 1, 1, 1, generator=g)
    c = torch.arange(3).view(1, 3, 1, 1)
    i = torch.arange(64).view(1, 1, 64, 1)
    j = torch.arange(64).view(1, 1, 1, 64)
    return (0.5 + 0.45 * torch.sin(fx * j + fy * i + phase + c)).float()


def bench(arch, batch, precision, steps, warmup, layout="nhwc", profile=False, ahead=True):
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    memory_format = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    model = (v1() if arch == "v1" else v2()).cuda().to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    host = [synthetic(batch, k).pin_memory() for k in range(4)]
    copy_stream = torch.cuda.Stream()
    sent = {}  # step -> (device batch, event after its copy)

    def send(k):
        with torch.cuda.stream(copy_stream):
            x = host[k % len(host)].cuda(non_blocking=True)
        sent[k] = (x, copy_stream.record_event())

    def batch_of(k):
        if k not in sent:
            return host[k % len(host)].cuda(non_blocking=True)
        x, copied = sent.pop(k)
        torch.cuda.current_stream().wait_event(copied)
        x.record_stream(torch.cuda.current_stream())  # made on the side stream, used on this one
        return x

    def step(k):
        if ahead:
            send(k + 1)
        x = batch_of(k).contiguous(memory_format=memory_format)
        optimizer.zero_grad(set_to_none=True)
        if precision == "bf16":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = model(x)
            loss = F.binary_cross_entropy(out.float(), x)
        else:
            loss = F.binary_cross_entropy(model(x), x)
        loss.backward()
        optimizer.step()
        return loss.item()

    for k in range(warmup):
        step(k)
    torch.cuda.synchronize()
    times = []
    profiler = None
    if profile:
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        profiler = torch.profiler.profile(activities=activities)
        profiler.__enter__()
    for k in range(warmup, warmup + steps):  # numbered on from the warm-up: its last step sent this one's batch
        start = time.perf_counter()
        value = step(k)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
        if not math.isfinite(value):
            raise SystemExit(f"twin.py: non-finite loss in {arch} {precision}")
    if profiler is not None:
        profiler.__exit__(None, None, None)
        print(f"# torch profile: {arch} batch {batch} {precision} {layout}, {steps} steps", file=sys.stderr)
        try:
            table = profiler.key_averages().table(sort_by="self_device_time_total", row_limit=30)
        except Exception:
            table = profiler.key_averages().table(sort_by="self_cuda_time_total", row_limit=30)
        print(table, file=sys.stderr, flush=True)
    times.sort()
    median = times[len(times) // 2]
    name = precision if layout == "nhwc" else f"{precision}-nchw"
    print(f"step,{arch},{batch},{name},{batch / (median / 1000.0):.1f},{median:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="v1,v2")
    parser.add_argument("--batch", default="64,128,256")
    parser.add_argument("--precision", default="fp32,tf32,bf16")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--layout", choices=["nhwc", "nchw"], default="nhwc")
    parser.add_argument("--ahead", choices=["on", "off"], default="on")
    parser.add_argument("--profile", action="store_true")
    a = parser.parse_args()
    count = lambda m: sum(p.numel() for p in m.parameters())
    print(f"# torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}; "
          f"parameters: v1 {count(v1())}, v2 {count(v2())}", flush=True)
    print(f"# each batch sent during the step before it (a side-stream copy): {'yes' if a.ahead == 'on' else 'no'}",
          flush=True)
    for arch in a.arch.split(","):
        for batch in (int(b) for b in a.batch.split(",")):
            for precision in a.precision.split(","):
                bench(arch, batch, precision, a.steps, a.warmup, a.layout, a.profile, a.ahead == "on")


if __name__ == "__main__":
    main()

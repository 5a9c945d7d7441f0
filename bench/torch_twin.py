"""bench/torch_twin.py: PyTorch's throughput on the same models, batch and threads as strata's bench.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
    /usr/bin/python3 bench/torch_twin.py [--arch v1,v2,v1-unet] [--batch 64] [--threads 1,2] [--steps 10] [--warmup 3]

The models are the twins of tests/parity (same layers, with strata's layer indices). A training step
is forward, BCE over the whole image, backward and an Adam step; inference is a forward pass in
eval mode without autograd. Both memory layouts are measured (NCHW and channels_last). Prints
CSV lines like bench/cpu_bench.cpp: library,arch,mode,threads,batch,images_per_second,gflops
(gflops is left empty: bench/cpu.sh applies strata's exact FLOP count to both).
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "parity"))
from torch_parity import twin  # noqa: E402


def measure(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="v1,v2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    print("library,arch,mode,threads,batch,images_per_second,gflops")
    for arch in a.arch.split(","):
        for threads in (int(t) for t in a.threads.split(",")):
            torch.set_num_threads(threads)
            for layout, memory_format in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
                model = twin(arch).to(memory_format=memory_format)
                x = torch.rand(a.batch, 3, 64, 64).contiguous(memory_format=memory_format)
                y = torch.rand(a.batch, 3, 64, 64).contiguous(memory_format=memory_format)
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
                loss_fn = torch.nn.BCELoss()

                def train():
                    optimizer.zero_grad(set_to_none=True)
                    loss_fn(model(x), y).backward()
                    optimizer.step()

                def infer():
                    with torch.no_grad():
                        model(x)

                model.train()
                t = measure(train, a.warmup, a.steps)
                print(f"pytorch-{layout},{arch},train,{threads},{a.batch},{a.batch / t:.1f},", flush=True)
                model.eval()
                t = measure(infer, a.warmup, a.steps)
                print(f"pytorch-{layout},{arch},inference,{threads},{a.batch},{a.batch / t:.1f},", flush=True)


if __name__ == "__main__":
    main()

"""bench/quality_parity.py: train the PyTorch twin of ConvNet v1 exactly as a strata run was trained,
from the same initial weights on the same photos, and compare validation hole PSNR.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
    /usr/bin/python3 bench/quality_parity.py --run RUN_DIR --train DIR --val DIR [--epochs 2] [--batch 64]

RUN_DIR is a finished `strata-inpaint train --arch v1` run: its initial.safetensors is PyTorch's
starting point and its history.csv holds strata's numbers. The PyTorch side uses the same task
(centre 32x32 blanked to 0, BCE over the whole image, Adam lr 1e-3 and Keras' epsilon 1e-7), the
same batch size and number of epochs, and its own shuffling. Metrics are strata's: hole PSNR is
10 log10(1 / MSE over the hole) per image, averaged over images.
"""
import argparse
import csv
import math
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "parity"))
from torch_parity import read_safetensors, torch_name, twin  # noqa: E402


def load_folder(folder, side=64):
    """Every JPEG/PNG under folder, sorted, as uint8 N x 3 x side x side (centre crop, resize)."""
    paths = []
    for root, _dirs, files in os.walk(folder):
        paths += [os.path.join(root, f) for f in files if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    paths.sort()
    images = np.empty((len(paths), 3, side, side), dtype=np.uint8)
    kept = 0
    for p in paths:
        try:
            im = Image.open(p).convert("RGB")
        except Exception:  # skipped, as strata skips undecodable files
            continue
        w, h = im.size
        c = min(w, h)
        im = im.crop(((w - c) // 2, (h - c) // 2, (w - c) // 2 + c, (h - c) // 2 + c))
        if c != side:
            im = im.resize((side, side), Image.BILINEAR)
        images[kept] = np.asarray(im).transpose(2, 0, 1)
        kept += 1
    return torch.from_numpy(images[:kept])


def batches(images, batch, order):
    for start in range(0, len(order), batch):
        target = images[order[start : start + batch]].float() / 255.0
        masked = target.clone()
        masked[:, :, 16:48, 16:48] = 0.0
        yield masked, target


def evaluate(model, images, batch):
    model.eval()
    loss_fn = torch.nn.BCELoss(reduction="sum")
    total, psnr, l1, count = 0.0, 0.0, 0.0, 0
    with torch.no_grad():
        for masked, target in batches(images, batch, torch.arange(len(images))):
            out = model(masked)
            total += loss_fn(out, target).item()
            diff = (out - target)[:, :, 16:48, 16:48]
            mse = diff.pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
            psnr += (10 * torch.log10(1 / mse)).sum().item()
            l1 += diff.abs().mean(dim=(1, 2, 3)).sum().item()
            count += len(target)
    return total / (count * 3 * 64 * 64), psnr / count, l1 / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    start = time.time()
    train, val = load_folder(a.train), load_folder(a.val)
    print(f"loaded {len(train)} training and {len(val)} validation images in {time.time() - start:.0f} s")

    model = twin("v1")
    initial = read_safetensors(os.path.join(a.run, "initial.safetensors"))
    model.load_state_dict({torch_name(k): v for k, v in initial.items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = torch.nn.BCELoss()
    generator = torch.Generator().manual_seed(a.seed)
    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.time()
        seen, total = 0, 0.0
        for masked, target in batches(train, a.batch, torch.randperm(len(train), generator=generator)):
            optimizer.zero_grad()
            loss = loss_fn(model(masked), target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(target)
            seen += len(target)
        seconds = time.time() - start
        val_loss, val_psnr, val_l1 = evaluate(model, val, a.batch)
        print(f"pytorch epoch {epoch}/{a.epochs} - {seconds:.0f} s - {seen / seconds:.1f} img/s - loss {total / seen:.4f}"
              f" - val_loss {val_loss:.4f} - val hole psnr {val_psnr:.2f} dB (l1 {val_l1:.4f})")

    with open(os.path.join(a.run, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    ours = rows[min(a.epochs, len(rows)) - 1]
    strata_psnr = float(ours["val_hole_psnr"])
    print(f"strata  epoch {ours['epoch']}: val_loss {float(ours['val_loss']):.4f} - val hole psnr {strata_psnr:.2f} dB"
          f" (l1 {float(ours['val_hole_l1']):.4f})")
    gap = strata_psnr - val_psnr
    print(f"hole PSNR, strata - PyTorch: {gap:+.2f} dB ({'within' if abs(gap) <= 0.2 else 'outside'} 0.2 dB)")
    return 0 if abs(gap) <= 0.2 else 1


if __name__ == "__main__":
    sys.exit(main())

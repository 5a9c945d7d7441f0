#!/usr/bin/env python3
"""bench/gpu/results.py STRATA_CSV TORCH_CSV TESTS_LOG > results.md

Sets strata's GPU benchmark (bench.cu) beside the PyTorch twin's (twin.py): a Markdown table for
bench/RESULTS.md with images per second in each of strata's modes (eager: kernels launched one by
one; graph: the training step replayed as a CUDA graph; -nhwc: activations channels last;
-engines: cuDNN's graph-API engines among each convolution's candidates; -cudnn: no direct
kernels of strata's), the graph/eager ratio (in the same variant: layout, engines, kernels), the
strata/PyTorch ratio (PyTorch eager), strata's achieved TFLOP/s and its fraction of the H200's
dense peak at that precision (NVIDIA's H200 SXM figures: fp32 67, tf32 495, bf16 989 TFLOP/s),
and how many convolution passes ran on direct kernels and on graph-API engines (an epoch row
counts the passes of both its batch sizes: the full one and the smaller last); then each
-engines row against the same mode without engines, each mode with direct kernels against the
same mode with -cudnn, then the epoch times extrapolated to 100 epochs against the 2017 run's
9 h 58 min, and the CUDA parity tests' verdict. Missing inputs give "n/a", not a failure. Rows
of an older bench.cu without the mode column count as eager.
"""
import re
import sys

PEAK_TFLOPS = {"fp32": 67.0, "tf32": 495.0, "bf16": 989.0}
KERAS_2017_SECONDS = 9 * 3600 + 58 * 60  # 100 epochs of v1, Keras on Theano, IFT6266


def read_rows(path):
    rows, comments = [], []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("#"):
                    comments.append(line[1:].strip())
                elif line:
                    rows.append(line.split(","))
    except OSError:
        pass
    return rows, comments


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def main():
    strata_rows, strata_notes = read_rows(sys.argv[1])
    torch_rows, torch_notes = read_rows(sys.argv[2])
    torch_ips = {(r[1], r[2], r[3]): number(r[4]) for r in torch_rows if r[0] == "step" and len(r) >= 5}

    out = ["## CUDA backend on one GPU (bench/gpu/check.sh)", ""]
    # Each benchmark process (NCHW, channels last, graph engines and cuDNN only) prints the same header lines: once each.
    strata_notes = list(dict.fromkeys(strata_notes))
    out += [f"- strata: {n}" for n in strata_notes] + [f"- PyTorch: {n}" for n in torch_notes]
    def mode_of(r, at):
        return r[at] if len(r) > at and r[at] else "eager"

    def variant_of(mode):  # what follows eager or graph: "", "nhwc", "nhwc-engines", "nhwc-cudnn"
        return mode.removesuffix("-fallback").partition("-")[2]

    # graph / eager compares a mode with eager in the same variant (layout, engines).
    eager_ips = {(r[1], r[2], r[3], variant_of(mode_of(r, 7))): number(r[4]) for r in strata_rows
                 if r[0] == "step" and len(r) >= 5 and mode_of(r, 7).startswith("eager")}
    def passes_of(r, at):  # "DIRECT/ENGINES/ALL" convolution passes -> "5 / 0 of 20"
        parts = r[at].split("/") if len(r) > at else []
        return f"{parts[0]} / {parts[1]} of {parts[2]}" if len(parts) == 3 else ""

    out += ["", "| model | batch | precision | strata mode | strata img/s | graph / eager | PyTorch img/s | strata / PyTorch | strata TFLOP/s | of H200 peak | conv passes direct / engine |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in strata_rows:
        if r[0] != "step" or len(r) < 5:
            continue
        arch, batch, precision, mode = r[1], r[2], r[3], mode_of(r, 7)
        ips = number(r[4])
        theirs = torch_ips.get((arch, batch, precision))
        eager = eager_ips.get((arch, batch, precision, variant_of(mode)))
        tflops = number(r[6]) if len(r) > 6 else None
        cells = [
            mode,
            f"{ips:,.0f}" if ips else r[4],
            f"{ips / eager:.2f}x" if not mode.startswith("eager") and ips and eager else "",
            f"{theirs:,.0f}" if theirs else "n/a",
            f"{ips / theirs:.2f}x" if ips and theirs else "n/a",
            f"{tflops:.1f}" if tflops else "n/a",
            f"{100 * tflops / PEAK_TFLOPS[precision]:.0f}%" if tflops and precision in PEAK_TFLOPS else "n/a",
            passes_of(r, 8),
        ]
        out.append(f"| {arch} | {batch} | {precision} | " + " | ".join(cells) + " |")

    # Whether cuDNN's graph-API engines help: each -engines row against the same mode without them;
    # whether strata's direct kernels do: each mode against the same mode with -cudnn (cuDNN only).
    step_ips = {(r[1], r[2], r[3], mode_of(r, 7)): number(r[4]) for r in strata_rows
                if r[0] == "step" and len(r) >= 5}

    def comparison(suffix, with_is_suffixed, header):
        # A row that fell back to eager steps (-fallback) is compared all the same, and says so.
        base = {(k[0], k[1], k[2], k[3].removesuffix("-fallback")): ips for k, ips in step_ips.items()}
        rows = [(key, step_ips[key]) for key in step_ips if key[3].removesuffix("-fallback").endswith(suffix)]
        if not rows:
            return []
        table = ["", header, "|---|---|---|---|---|---|---|"]
        for (arch, batch, precision, mode), ips in rows:
            other = base.get((arch, batch, precision, mode.removesuffix("-fallback").removesuffix(suffix)))
            with_it, without = (ips, other) if with_is_suffixed else (other, ips)
            ratio = f"{with_it / without:.2f}x" if with_it and without else "n/a"
            shown = mode if with_is_suffixed else mode.replace(suffix, "")
            table.append(f"| {arch} | {batch} | {precision} | {shown} | {f'{with_it:,.0f}' if with_it else 'n/a'} | "
                         f"{f'{without:,.0f}' if without else 'n/a'} | {ratio} |")
        return table

    out += comparison("-engines", True, "| model | batch | precision | strata mode | with graph engines img/s | "
                      "legacy algorithms img/s | engines / legacy |")
    out += comparison("-cudnn", False, "| model | batch | precision | strata mode | with direct kernels img/s | "
                      "cuDNN only img/s | direct / cuDNN only |")

    epochs = [r for r in strata_rows if r[0] == "epoch" and len(r) >= 6]
    if epochs:
        out += ["", "| one epoch of v1 | batch | precision | strata mode | seconds | 100 epochs | vs 9 h 58 min (2017) | conv passes direct / engine |", "|---|---|---|---|---|---|---|---|"]
        for r in epochs:
            seconds = number(r[4])
            mode = mode_of(r, 6)
            if seconds is None:
                out.append(f"| {int(r[5]):,} images | {r[2]} | {r[3]} | {mode} | {r[4]} | n/a | n/a | {passes_of(r, 7)} |")
                continue
            hundred = 100 * seconds
            out.append(f"| {int(r[5]):,} images | {r[2]} | {r[3]} | {mode} | {seconds:.2f} | {hundred / 60:.1f} min | "
                       f"{KERAS_2017_SECONDS / hundred:,.0f}x faster | {passes_of(r, 7)} |")

    verdict = "n/a"
    try:
        with open(sys.argv[3]) as f:  # one verdict per run of the tests, each after "## FLAGS"
            text = f.read()
        parts = re.split(r"^## (.*)$", text, flags=re.M)
        names, runs = parts[1::2], parts[2::2]
        if parts[0].strip():  # an older check.sh: its first run had no "## FLAGS" line
            names, runs = ["channels first"] + names, [parts[0]] + runs
        verdicts = []
        for name, run in zip(names, runs):
            # The verdict ("CUDA runtime tests (...): passed", ": skipped, no GPU"), not the banner ("... on H200").
            lines = [l.strip() for l in run.splitlines()
                     if l.startswith("CUDA runtime tests") and not l.startswith("CUDA runtime tests on ")]
            verdicts.append(lines[-1] if lines else f"{name}: no verdict line (crashed or timed out)")
        verdict = "; ".join(verdicts)
    except (OSError, IndexError):
        pass
    out += ["", f"Parity (tests/backend/cuda/parity.cu): {verdict}", ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()

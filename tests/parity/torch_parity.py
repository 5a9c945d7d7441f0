"""tests/parity/torch_parity.py: the PyTorch half of the parity test.

    torch_parity.py ARCH DIR f32|f64

Builds the PyTorch twin of a strata architecture (Flattened: an nn.Sequential whose indices are
strata's layer indices, skip blocks flattened as strata flattens them), loads strata's initial
weights from DIR/initial.safetensors, replays the Adam steps (Keras' defaults, BCE) strata ran on
DIR/batches.safetensors, and compares. Exits 0 when everything agrees, 1 otherwise, 77 when
PyTorch is missing (CTest: skipped).

f64, the strict test. At steps 0, 1, 9 and 19 PyTorch starts from strata's exact state (weights,
buffers, Adam moments and step count, from DIR/steps.safetensors) and must reproduce the step's
loss, every gradient and the state after the update within 1e-7 relative (to each tensor's
largest magnitude): one wrong layer, gradient or update rule anywhere fails it.

f32, the precision users train in: the first output within 1e-4 and every loss of the free run
within 1e-3. Final weights are reported, not checked: after a few steps the two float32 runs
differ in the last bits, and a ReLU input that sits within that distance of 0, or an Adam
update whose gradient is near 0, turns last-bit differences into ~1e-2 of a tensor's scale by
step 20 (measured; the f64 step checks show the algorithms themselves agree to ~1e-12).
"""
import json
import struct
import sys

try:
    import torch
    from torch import nn
except ImportError:
    print("parity test skipped: PyTorch is not installed (Debian package python3-torch)")
    sys.exit(77)

DTYPES = {"F32": torch.float32, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + begin : base + end]), dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"]).clone()
    return tensors


def conv(c_in, c_out):
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class SkipInput(nn.Identity):
    """Where a skip block starts (strata's layers/skip.hpp): its input goes round the block."""


class ConcatInput(SkipInput):
    pass


class ResidualInput(SkipInput):
    pass


class ConcatJoin(nn.Module):
    """The end of a Concat block: torch.cat([block input, block output]) along the channels."""

    opens_with = ConcatInput

    def forward(self, block_input, block_output):
        return torch.cat([block_input, block_output], dim=1)


class ResidualAdd(nn.Module):
    """The end of a Residual block: block input + block output."""

    opens_with = ResidualInput

    def forward(self, block_input, block_output):
        return block_input + block_output


class Flattened(nn.Sequential):
    """strata's flattened layer list, skip blocks included, with strata's indices as module names:
    a SkipInput keeps its input for the join that ends its block (blocks nest, so a stack)."""

    def forward(self, x):
        blocks = []  # (marker, block input) of each open block, innermost last
        for layer in self:
            if isinstance(layer, SkipInput):
                blocks.append((layer, x))
            elif isinstance(layer, (ConcatJoin, ResidualAdd)):
                marker, block_input = blocks.pop()
                assert isinstance(marker, layer.opens_with), f"{type(layer).__name__} ends a {type(marker).__name__}"
                x = layer(block_input, x)
            else:
                x = layer(x)
        return x


def twin(arch):
    """The PyTorch model whose module indices equal strata's layer indices."""
    R, S = nn.ReLU, nn.Sigmoid

    def P():
        return nn.MaxPool2d(2)

    def U():
        return nn.Upsample(scale_factor=2, mode="nearest")

    if arch == "v1":
        layers = [conv(3, 32), R(), conv(32, 32), R(), P(), conv(32, 64), R(), P(), conv(64, 128), R(), U(),
                  conv(128, 64), R(), U(), conv(64, 32), R(), conv(32, 3), S()]
    elif arch == "v2":
        layers = [conv(3, 32), R(), conv(32, 32), R(), conv(32, 32), R(), conv(32, 32), R(), P(),
                  conv(32, 64), R(), conv(64, 64), R(), P(), conv(64, 128), R(), conv(128, 128), R(), U(),
                  conv(128, 64), R(), conv(64, 64), R(), U(), conv(64, 32), R(), conv(32, 32), R(),
                  conv(32, 32), R(), conv(32, 3), S()]
    elif arch == "v1-bn":
        def block(c_in, c_out):
            return [conv(c_in, c_out), nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01), R()]
        layers = (block(3, 32) + block(32, 32) + [P()] + block(32, 64) + [P()] + block(64, 128) + [U()]
                  + block(128, 64) + [U()] + block(64, 32) + [conv(32, 3), S()])
    elif arch == "v1-unet":
        # examples/inpainting/architectures.hpp's ConvNetV1UNet: each Concat block's input, the
        # encoder's features, meets the decoder's at the same resolution.
        C, J = ConcatInput, ConcatJoin
        layers = [conv(3, 32), R(), conv(32, 32), R(),
                  C(), P(), conv(32, 64), R(),
                  C(), P(), conv(64, 128), R(), U(), J(),
                  conv(64 + 128, 64), R(), U(), J(),
                  conv(32 + 64, 32), R(), conv(32, 3), S()]
    elif arch == "skips":
        # strata_side.cpp's Skips: Residual blocks at the input, at full resolution and after
        # pooling (that one holding a Concat).
        I, A, C, J = ResidualInput, ResidualAdd, ConcatInput, ConcatJoin
        layers = [I(), conv(3, 3), R(), conv(3, 3), A(), conv(3, 16), R(),
                  I(), conv(16, 16), R(), conv(16, 16), A(), R(), P(),
                  I(), conv(16, 16), R(), C(), nn.Conv2d(16, 8, 1), J(), nn.Conv2d(24, 16, 1), A(),
                  U(), conv(16, 3), S()]
    else:
        raise SystemExit(f"no PyTorch twin for {arch}")
    return Flattened(*layers)


def torch_name(strata_name):
    """'0.conv.weight' -> '0.weight'; '1.batch_norm.running_mean' -> '1.running_mean'."""
    index, _kind, field = strata_name.split(".")
    return f"{index}.{field}"


def relative(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def load_state(model, tensors, prefix, dtype):
    state = {torch_name(k[len(prefix):]): v.to(dtype) for k, v in tensors.items() if k.startswith(prefix)}
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert expected <= set(state), f"strata's file lacks {expected - set(state)}"
    model.load_state_dict(state, strict=False)


def free_run(arch, folder, precision, failures):
    dtype = torch.float64 if precision == "f64" else torch.float32
    model = twin(arch)
    load_state(model, read_safetensors(f"{folder}/initial.safetensors"), "", torch.float32)
    model.to(dtype).train()
    batches = read_safetensors(f"{folder}/batches.safetensors")
    result = read_safetensors(f"{folder}/result.safetensors")
    steps = result["losses"].numel()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.BCELoss()
    losses = []
    for k in range(steps):
        optimizer.zero_grad()
        out = model(batches[f"input.{k}"].to(dtype))
        loss = loss_fn(out, batches[f"target.{k}"].to(dtype))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if k == 0:
            output0 = out.detach()
    output_tolerance, loss_tolerance = (1e-5, 1e-4) if precision == "f64" else (1e-4, 1e-3)
    d = relative(result["output0"], output0)
    print(f"{arch} {precision}: first forward output, max relative difference {d:.2e}")
    if d > output_tolerance:
        failures.append(f"{precision} output0 differs by {d:.2e}")
    worst = 0.0
    for k, (a, b) in enumerate(zip(result["losses"].tolist(), losses)):
        r = abs(a - b) / abs(b)
        worst = max(worst, r)
        if r > loss_tolerance:
            failures.append(f"{precision} loss of step {k}: strata {a:.8f}, PyTorch {b:.8f}")
    print(f"{arch} {precision}: {steps} free-running steps, losses {losses[0]:.6f} -> {losses[-1]:.6f}, "
          f"worst relative loss difference {worst:.2e}")
    named = dict(model.named_parameters())
    named.update(dict(model.named_buffers()))
    drift = max(relative(v, named[torch_name(k[len("final."):])].detach()) for k, v in result.items()
                if k.startswith("final."))
    print(f"{arch} {precision}: after {steps} steps the weights differ by at most {drift:.2e} (reported)")


def step_checks(arch, folder, failures, tolerance=1e-7):
    """From strata's exact state before step K, PyTorch's step K must land on strata's state after it.

    A conv bias followed by BatchNorm has a zero gradient in exact arithmetic (BatchNorm removes
    the mean); both libraries compute rounding noise there (~1e-17) and Adam turns its sign into
    +-lr steps. Such gradients are compared against the largest gradient of the model instead of
    their own, and the update of such a parameter is not compared.
    """
    tensors = read_safetensors(f"{folder}/steps.safetensors")
    batches = read_safetensors(f"{folder}/batches.safetensors")
    checked = sorted({int(k.split(".")[0]) for k in tensors})
    loss_fn = nn.BCELoss()

    def strata_tensor(kind, k, name):
        return next(v for s, v in tensors.items()
                    if s.startswith(f"{k}.{kind}.") and torch_name(s[len(f"{k}.{kind}."):]) == name)

    for k in checked:
        model = twin(arch).double().train()
        load_state(model, tensors, f"{k}.before.", torch.float64)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        if k > 0:
            for name, p in model.named_parameters():
                optimizer.state[p] = {"step": torch.tensor(float(k)),
                                      "exp_avg": strata_tensor("m", k, name).clone(),
                                      "exp_avg_sq": strata_tensor("v", k, name).clone()}
        optimizer.zero_grad()
        loss = loss_fn(model(batches[f"input.{k}"].double()), batches[f"target.{k}"].double())
        loss.backward()
        worst = abs(loss.item() - tensors[f"{k}.loss"].item()) / abs(loss.item())
        worst_what = "loss"
        global_scale = max(p.grad.abs().max().item() for p in model.parameters())
        noise = set()
        for name, p in model.named_parameters():
            theirs = p.grad.double()
            scale = theirs.abs().max().item()
            if scale < 1e-9 * global_scale:
                noise.add(name)
                scale = global_scale
            r = (strata_tensor("grad", k, name) - theirs).abs().max().item() / scale
            if r > worst:
                worst, worst_what = r, f"gradient of {name}"
        optimizer.step()
        named = dict(model.named_parameters())
        named.update(dict(model.named_buffers()))
        for s, v in tensors.items():
            if s.startswith(f"{k}.after."):
                name = torch_name(s[len(f"{k}.after."):])
                if name in noise:
                    continue
                r = relative(v, named[name].detach())
                if r > worst:
                    worst, worst_what = r, f"{name} after the update"
        skipped = f"; {len(noise)} zero-gradient biases before BatchNorm compared as gradients only" if noise else ""
        print(f"{arch} f64 step {k} from strata's state: worst relative difference {worst:.2e} ({worst_what}){skipped}")
        if worst > tolerance:
            failures.append(f"step {k}: {worst_what} differs by {worst:.2e}")


def main():
    arch, folder, precision = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.set_num_threads(2)
    failures = []
    if precision == "f64":
        step_checks(arch, folder, failures)
    else:
        free_run(arch, folder, precision, failures)
    if failures:
        print("PARITY FAILED:\n  " + "\n  ".join(failures[:20]))
        return 1
    print(f"{arch} {precision}: parity OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

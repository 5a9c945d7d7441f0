#!/usr/bin/env python3
"""Crash harness: training killed at random moments resumes exactly and loses no checkpoint.

It trains ConvNet v1 on built-in scenes once without interruption (the reference), then trains
the same run again while killing it with SIGKILL --kills times: at random moments, as soon as a
checkpoint write has begun (its .tmp file exists), and during validation (the epoch's samples
picture has appeared), resuming after each kill. After every kill it checks that each checkpoint
file under a final name reads back whole (`strata-inpaint inspect`: structure and data checksum)
and that the next start resumes from the newest of them. It also stops the run once with SIGTERM
and once with SIGINT, which must exit with 143 and 130 after writing a checkpoint to resume from.
At the end the weights must equal the reference's, byte for byte.

    python3 tests/crash/kill_and_resume.py --binary build/.../strata-inpaint --work /tmp/crash
Exit status 0 when everything holds; every failure is printed.
"""
import argparse
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import time

CHECKPOINTS = ["checkpoint.safetensors", "checkpoint.safetensors.new", "checkpoint_prev.safetensors"]
RESUMED = re.compile(r"resuming .* from (\S+): epoch (\d+), after batch (\d+) \(training step (\d+)\)")


def train_command(binary, run, resume):
    # 16 epochs of 8 steps: the 20 kills keep about 80 steps of progress on a 2-core machine
    # (ConvNet v1 at ~135 img/s), and a run that ends before its last kills fails the harness; with
    # 12 epochs the margin was 18 steps, little enough for a faster moment of the machine to eat.
    common = ["--arch", "v1", "--builtin-images", "128", "--builtin-validation", "64", "--batch", "16",
              "--epochs", "16", "--checkpoint-every", "2", "--threads", "2", "--samples", "4", "--seed", "7"]
    if resume:
        return [binary, "train", "--resume", run] + common
    return [binary, "train", "--out", run] + common


def inspect(binary, path):
    """(whole, metadata) of a safetensors file, by the trainer's own reader."""
    result = subprocess.run([binary, "inspect", path], capture_output=True, text=True)
    meta = {}
    for line in result.stdout.splitlines()[1:]:
        if " = " in line:
            key, value = line.strip().split(" = ", 1)
            meta[key] = value
    return result.returncode == 0, meta, result.stdout.strip()


def tensor_bytes(path):
    """The data section of a safetensors file (the tensors' bytes, in file order)."""
    with open(path, "rb") as f:
        raw = f.read()
    (header,) = struct.unpack("<Q", raw[:8])
    return raw[8 + header:]


class Harness:
    def __init__(self, args):
        self.args = args
        self.failures = []
        self.kinds = {"random moment": 0, "checkpoint write": 0, "validation": 0}
        self.tmp_left = 0  # kills that left a half-written .tmp behind: they hit a write

    def fail(self, what):
        print("FAIL: " + what, flush=True)
        self.failures.append(what)

    def newest_checkpoint(self, run):
        """(sequence, epoch, batches_done, step) of the newest whole checkpoint, or None."""
        newest = None
        for name in CHECKPOINTS:
            path = os.path.join(run, name)
            if not os.path.exists(path):
                continue
            whole, meta, text = inspect(self.args.binary, path)
            if not whole:
                self.fail("a checkpoint under its final name is not whole: " + text)
                continue
            key = (int(meta["checkpoint_sequence"]), int(meta["epoch"]) + 1, int(meta["batches_done"]),
                   int(meta["model.step_count"]))
            if newest is None or key[0] > newest[0]:
                newest = key
        return newest

    def start(self, run, log):
        expected = self.newest_checkpoint(run) if os.path.isdir(run) else None
        out = open(log, "w")
        process = subprocess.Popen(train_command(self.args.binary, run, expected is not None), stdout=out,
                                   stderr=subprocess.STDOUT)
        return process, out, expected

    def check_resume_line(self, log, expected, label):
        if expected is None:
            return
        with open(log) as f:
            text = f.read()
        match = RESUMED.search(text)
        if not match:
            self.fail(label + ": no 'resuming' line in its output:\n" + text[-800:])
            return
        got = (int(match.group(2)), int(match.group(3)), int(match.group(4)))
        if got != expected[1:]:
            self.fail("%s: resumed at epoch %d batch %d step %d, but the newest whole checkpoint is epoch %d batch %d "
                      "step %d" % ((label,) + got + expected[1:]))

    def wait_for(self, process, condition, limit):
        """Polls every 0.2 ms until condition() or the process ends; True when the condition held."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if condition():
                return True
            time.sleep(0.0002)
        return False

    def kill_once(self, run, k, kind, rng):
        log = os.path.join(self.args.work, "kill%02d.log" % k)
        process, out, expected = self.start(run, log)
        samples_before = set(f for f in os.listdir(run) if f.startswith("samples_")) if os.path.isdir(run) else set()
        started = time.monotonic()
        if kind == "random moment":
            # From the moment training starts (after the resume line, which is checked): a kill
            # before it would only test that a process can be killed.
            delay = rng.uniform(0.1, 2.3)
            begun = {}
            def due():
                if "at" not in begun:
                    with open(log) as f:
                        if ("resuming" if expected else "data:") in f.read():
                            begun["at"] = time.monotonic()
                    return False
                return time.monotonic() - begun["at"] >= delay
            hit = self.wait_for(process, due, 60)
        elif kind == "checkpoint write":
            tmp = os.path.join(run, "checkpoint.safetensors.new.tmp")
            hit = self.wait_for(process, lambda: os.path.exists(tmp), 30)
        else:
            def validating():
                return any(f.startswith("samples_") and f not in samples_before and not f.endswith(".tmp")
                           for f in os.listdir(run))
            hit = self.wait_for(process, validating, 60)
        if not hit:
            process.wait()
            out.close()
            self.fail("kill %d (%s): the run ended (status %s) before the moment came; see %s"
                      % (k, kind, process.returncode, log))
            return False
        process.send_signal(signal.SIGKILL)
        process.wait()
        out.close()
        self.kinds[kind] += 1
        left = [f for f in os.listdir(run) if f.endswith(".tmp")]
        self.tmp_left += 1 if left else 0
        self.check_resume_line(log, expected, "kill %d" % k)
        newest = self.newest_checkpoint(run)
        print("kill %2d (%s) after %.2f s%s; newest whole checkpoint: %s" % (
            k, kind, time.monotonic() - started, ", left " + " ".join(left) if left else "",
            "epoch %d batch %d step %d" % newest[1:] if newest else "none yet"), flush=True)
        return True

    def stop_with(self, run, sig, status, label):
        log = os.path.join(self.args.work, label + ".log")
        process, out, expected = self.start(run, log)
        # Once the run trains: the handlers are installed when the model exists.
        self.wait_for(process, lambda: "resuming" in open(log).read(), 60)
        time.sleep(0.5)
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            self.fail(label + ": the trainer did not stop within 30 s")
        out.close()
        self.check_resume_line(log, expected, label)
        with open(log) as f:
            text = f.read()
        if process.returncode != status:
            self.fail("%s: exit status %s, expected %d:\n%s" % (label, process.returncode, status, text[-800:]))
        if "stopped on request" not in text:
            self.fail(label + ": no 'stopped on request' line:\n" + text[-800:])
        newest = self.newest_checkpoint(run)
        if newest is None:
            self.fail(label + ": no checkpoint after a clean stop")
            return
        print("%s: exit %s; newest whole checkpoint: epoch %d batch %d step %d" % ((label, process.returncode) + newest[1:]),
              flush=True)

    def run(self):
        args = self.args
        shutil.rmtree(args.work, ignore_errors=True)
        os.makedirs(args.work)
        reference = os.path.join(args.work, "reference")
        started = time.monotonic()
        status = subprocess.run(train_command(args.binary, reference, False), capture_output=True, text=True)
        if status.returncode != 0:
            self.fail("the uninterrupted reference run failed:\n" + status.stdout[-800:] + status.stderr[-800:])
            return 1
        print("reference run: %.1f s" % (time.monotonic() - started), flush=True)

        run = os.path.join(args.work, "killed")
        rng = random.Random(args.seed)
        order = ["checkpoint write", "random moment", "validation", "random moment"]
        for k in range(1, args.kills + 1):
            if not self.kill_once(run, k, order[(k - 1) % len(order)], rng):
                break
            if k == args.kills // 2:
                self.stop_with(run, signal.SIGTERM, 143, "sigterm")
                self.stop_with(run, signal.SIGINT, 130, "sigint")
        log = os.path.join(args.work, "final.log")
        process, out, expected = self.start(run, log)
        process.wait()
        out.close()
        self.check_resume_line(log, expected, "final run")
        if process.returncode != 0:
            with open(log) as f:
                self.fail("the final resume failed:\n" + f.read()[-800:])
        for name in ["model.safetensors", "checkpoint.safetensors"]:
            a, b = os.path.join(reference, name), os.path.join(run, name)
            if not os.path.exists(b) or tensor_bytes(a) != tensor_bytes(b):
                self.fail(name + ": the interrupted run's tensors differ from the uninterrupted run's")
        print("kills: %s; %d of them left a half-written .tmp file (killed inside a write)" % (
            ", ".join("%d at a %s" % (n, kind) if kind != "validation" else "%d during validation" % n
                      for kind, n in self.kinds.items()), self.tmp_left))
        done = sum(self.kinds.values())
        if done != args.kills:
            self.fail("only %d of %d kills happened" % (done, args.kills))
        if self.failures:
            print("%d failure(s)" % len(self.failures))
            return 1
        print("passed: %d/%d kills resumed from the newest whole checkpoint, SIGTERM and SIGINT stopped cleanly, and "
              "the final weights equal the uninterrupted run's (%.0f s)" % (done, args.kills, time.monotonic() - started))
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True, help="the strata-inpaint executable")
    parser.add_argument("--work", required=True, help="a scratch folder (emptied first)")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random kill moments")
    return Harness(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())

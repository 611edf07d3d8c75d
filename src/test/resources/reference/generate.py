"""Runs microgpt.py (Karpathy's, beside this file) on a dataset and writes its run as test resources:
<prefix>_losses.txt ("<step> <loss>" for steps 1..1000, the loss as microgpt.py printed it, Python's repr)
and <prefix>_samples.txt (the 20 samples, as microgpt.py printed them). BuiltinReferenceRunTest replays them.

Run with CPython 3.11 (standard library only), from this directory or anywhere:
    python3 generate.py                      # the built-in names -> builtin_names_16x16_seed42_*.txt here
    python3 generate.py DATASET OUT_PREFIX   # any dataset, e.g. makemore's names.txt, to check the restoration

microgpt.py reads ./input.txt, so it runs in a temporary directory that holds a copy of the dataset under that
name; it takes a minute or two. The script's own settings are used: n_embd 16, block_size 16, seed 42, 1000 steps.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILTIN = HERE.parents[2] / "main" / "resources" / "dev" / "microgpt" / "data" / "builtin-names.txt"


def main():
    dataset = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else BUILTIN
    prefix = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else HERE / "builtin_names_16x16_seed42"
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(dataset, Path(tmp) / "input.txt")
        run = subprocess.run([sys.executable, str(HERE / "microgpt.py")], cwd=tmp, check=True,
                             stdout=subprocess.PIPE)
    out = run.stdout.decode("utf-8")

    # Training prints its progress line ending in '\r', not '\n': split lines on '\n' only.
    losses, samples, header = [], [], []
    for line in out.split("\n"):
        for part in line.split("\r"):
            if part.startswith("step "):
                # "step    1 / 1000 | loss 3.3659669475848504"
                step = int(part[len("step "):].split("/")[0])
                loss = part.rsplit("| loss ", 1)[1]
                assert float(repr(float(loss))) == float(loss)
                losses.append(f"{step} {loss}")
            elif part.startswith("sample "):
                samples.append(part)
            elif part.startswith(("num docs:", "vocab size:", "num params:")):
                header.append(part)
    assert [int(l.split()[0]) for l in losses] == list(range(1, len(losses) + 1)) and losses, "missing steps"
    assert len(samples) == 20, "expected 20 samples"

    Path(f"{prefix}_losses.txt").write_text("\n".join(losses) + "\n", encoding="utf-8")
    Path(f"{prefix}_samples.txt").write_text("\n".join(samples) + "\n", encoding="utf-8")
    print(f"python {sys.version.split()[0]}; dataset {dataset} "
          f"(sha256 {hashlib.sha256(dataset.read_bytes()).hexdigest()}); " + "; ".join(header))
    print(f"wrote {prefix}_losses.txt ({len(losses)} steps, last loss {losses[-1].split()[1]}) and "
          f"{prefix}_samples.txt")


if __name__ == "__main__":
    main()

"""Writes cpython_random.json: values drawn from CPython's own `random` module, which PyRandomTest
checks dev.microgpt.rng.PyRandom against bit for bit.

Run with CPython 3.11 (standard library only), from this directory or anywhere:
    python3 generate.py

The JSON is deliberately flat so the Java test can read it without a JSON library: one key per line,
every value a list of strings (floats as repr, which Double.parseDouble reads back exactly; ints in
decimal). Keys are "<case>" or "seed<seed>.<case>".
"""

import base64
import hashlib
import json
import math
import random
import struct
import sys
from pathlib import Path

SEEDS = [42, 0, 1, 12345, 2**40 + 7]  # 2**40 + 7 seeds MT19937 with a two-word key
GETRANDBITS_WIDTHS = [1, 7, 31, 32, 33, 64, 100]
RANDBELOW_BOUNDS = [1, 2, 3, 10, 27, 1000, 2**31 - 1]
# Weight vectors for choices(): normalised, with zeros (first, middle, last), unnormalised ints and floats.
CHOICE_WEIGHTS = {
    "probs": [0.1, 0.2, 0.7],
    "zeros": [0, 3, 0, 1, 0],
    "mixed": [2.5, 0.0, 1e-3, 7.25, 0.0, 4.0, 0.3],
    "softmax27": None,  # filled in below
}
# gauss() draws alternate between two (mu, sigma) pairs so the cached second value (gauss_next) is
# produced under one pair and returned under the other: draw i uses GAUSS_WIDE when i % 6 == 5.
GAUSS_DRAWS = 120
GAUSS_NARROW = (0.0, 0.08)
GAUSS_WIDE = (3.0, 2.0)

MICROGPT_DOCS = 32033  # names in microgpt's input.txt
MICROGPT_PARAMS = 4192  # gauss(0, 0.08) draws made by microgpt's parameter initialisation
MICROGPT_SAMPLES = 20


def softmax(logits):
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def softmax_weights(index):
    """A deterministic probability vector over 27 tokens, like microgpt's sampling distribution."""
    return softmax([math.sin(1.7 * t + 0.37 * index) * 3.0 for t in range(27)])


def sha256_of_ints(values):
    return hashlib.sha256(b"".join(struct.pack("<i", v) for v in values)).hexdigest()


def per_seed_cases(seed):
    cases = {}
    rng = random.Random(seed)
    cases["random"] = [repr(rng.random()) for _ in range(50)]

    for k in GETRANDBITS_WIDTHS:
        rng = random.Random(seed)
        cases[f"getrandbits.{k}"] = [str(rng.getrandbits(k)) for _ in range(10)]

    for n in RANDBELOW_BOUNDS:
        rng = random.Random(seed)
        cases[f"randbelow.{n}"] = [str(rng._randbelow(n)) for _ in range(20)]

    rng = random.Random(seed)
    cases["gauss"] = [repr(rng.gauss(*(GAUSS_WIDE if i % 6 == 5 else GAUSS_NARROW))) for i in range(GAUSS_DRAWS)]

    for size in (50, 1000):
        rng = random.Random(seed)
        items = list(range(size))
        rng.shuffle(items)
        cases[f"shuffle.{size}"] = [str(v) for v in items]

    for name, weights in CHOICE_WEIGHTS.items():
        rng = random.Random(seed)
        population = range(len(weights))
        cases[f"choices.{name}"] = [str(rng.choices(population, weights=weights)[0]) for _ in range(50)]

    # Calls interleaved as a program would make them; the state is captured while a gauss value is cached.
    rng = random.Random(seed)
    items = list(range(20))
    rng.shuffle(items)
    cases["mixed.shuffle"] = [str(v) for v in items]
    cases["mixed.gauss"] = [repr(rng.gauss(0.0, 1.0)) for _ in range(7)]
    cases["mixed.random"] = [repr(rng.random())]
    weights = CHOICE_WEIGHTS["mixed"]
    cases["mixed.choices"] = [str(rng.choices(range(len(weights)), weights=weights)[0]) for _ in range(5)]
    _, words_and_index, gauss_next = rng.getstate()
    cases["mixed.state.mt"] = [str(w) for w in words_and_index[:-1]]
    cases["mixed.state.index"] = [str(words_and_index[-1])]
    cases["mixed.state.gaussNext"] = [repr(gauss_next)]
    cases["mixed.after"] = [repr(rng.gauss(0.0, 1.0)), repr(rng.random())]
    return cases


def microgpt_cases():
    """microgpt.py's exact use of the module: seed, shuffle the documents, initialise, sample."""
    rng = random.Random(42)
    docs = list(range(MICROGPT_DOCS))
    rng.shuffle(docs)
    params = [rng.gauss(0, 0.08) for _ in range(MICROGPT_PARAMS)]
    samples = [rng.choices(range(27), weights=softmax_weights(i))[0] for i in range(MICROGPT_SAMPLES)]
    return {
        "microgpt.shuffle.first10": [str(v) for v in docs[:10]],
        "microgpt.shuffle.last10": [str(v) for v in docs[-10:]],
        "microgpt.shuffle.sha256": [sha256_of_ints(docs)],
        # All of them, compactly: base64 of the IEEE-754 doubles, little-endian.
        "microgpt.gauss.base64": [base64.b64encode(struct.pack(f"<{len(params)}d", *params)).decode("ascii")],
        "microgpt.choices": [str(v) for v in samples],
    }


def main():
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"expected CPython 3.11, got {sys.version.split()[0]}")
    CHOICE_WEIGHTS["softmax27"] = softmax_weights(0)

    cases = {
        "meta.python": [sys.version.split()[0]],
        "seeds": [str(s) for s in SEEDS],
        "getrandbits.widths": [str(k) for k in GETRANDBITS_WIDTHS],
        "randbelow.bounds": [str(n) for n in RANDBELOW_BOUNDS],
        "choices.names": list(CHOICE_WEIGHTS),
    }
    for name, weights in CHOICE_WEIGHTS.items():
        cases[f"choices.weights.{name}"] = [repr(float(w)) for w in weights]
    # The one long whose magnitude needs all 64 bits: Java's Long.MIN_VALUE seeds like Python's -2**63.
    rng = random.Random(-(2**63))
    cases["minLongSeed.random"] = [repr(rng.random()) for _ in range(5)]
    for seed in SEEDS:
        for key, values in per_seed_cases(seed).items():
            cases[f"seed{seed}.{key}"] = values
    cases.update(microgpt_cases())
    for i in range(MICROGPT_SAMPLES):
        cases[f"microgpt.weights.{i}"] = [repr(w) for w in softmax_weights(i)]

    lines = [f"  {json.dumps(key)}: {json.dumps(values)}" for key, values in cases.items()]
    out = Path(__file__).with_name("cpython_random.json")
    out.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

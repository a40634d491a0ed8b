#!/usr/bin/python3
"""PyTorch eager timing of a random-weight model, built exactly as export.py builds it (same seed,
same weights), on the first row of a float32 input file: one warm-up, then RUNS timed passes.
Prints {"torch": version, "threads": n, "ms": [...], "firstOutput": [...]} as JSON (the first
output for that row, so the caller can check it timed the model it exported). Used by npm run bench:paper.

  python3 tools/export/bench_torch.py a --layers 12 --input x.f32 --shape 2,64000 --runs 2
"""
import argparse
import json
import os
import sys
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_torch.py")
    parser.add_argument("kind", choices=["vs", "vd", "a"])
    parser.add_argument("--input", required=True, help="raw little-endian float32 file")
    parser.add_argument("--shape", required=True, help="its shape, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--classes", type=int, default=8)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    import export

    torch.set_num_threads(args.threads)
    build_args = export.parse_args([
        args.kind, "--random-weights", "--out", ".", "--seed", str(args.seed),
        "--layers", str(args.layers), "--classes", str(args.classes),
    ])
    model, _, _, _ = export.build_model(build_args)
    model.eval()
    shape = [int(d) for d in args.shape.split(",")]
    data = np.fromfile(args.input, dtype="<f4").reshape(shape)
    single = torch.from_numpy(data[:1].copy())
    times: List[float] = []
    with torch.no_grad():
        first = model(single)
        first = first[0] if isinstance(first, tuple) else first
        for _ in range(args.runs):
            started = time.perf_counter()
            model(single)
            times.append((time.perf_counter() - started) * 1000.0)
    sys.stdout.write(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "ms": times,
        "firstOutput": [float(v) for v in first.reshape(-1)],
    }) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""float32 maps computed by the Python reference's interpreter (jit=False), for
dynlib-runtime/tests/float32.rs:

    python tools/golden_float32.py > tests/data/golden/float32_maps.json

With numpy 2's scalar rules (NEP 50) every operation of a float32 model computes in float32:
float32 op float32 gives float32, and a Python int or float literal takes the float32 type
of the other operand. (The reference's Numba mode disagrees: Numba types literals as
float64, so `1 - x` is computed in float64 there; the two modes of the reference give
different logistic maps after a few dozen iterations.) The trajectories are stored as the
bit patterns of the float32 values. Needs dynlib==0.42.0 and numpy 2 in a virtualenv outside
the repository.
"""
import json, sys
import numpy as np
import dynlib

N = 1000
cases = []
for name in ("logistic", "henon", "ikeda"):
    uri = "builtin://map/" + name
    sim = dynlib.setup(uri, jit=False, dtype="float32")
    sim.run(N=N)
    res = sim.raw_results()
    y = np.asarray(res.Y_view, dtype=np.float32)
    cases.append({
        "uri": uri,
        "iterations": N,
        "states": [s for s in sim.model.spec.states] if hasattr(sim, "model") else None,
        "bits": [[int(v) for v in row.view(np.uint32)] for row in y],
    })
json.dump({"generator": "tools/golden_float32.py", "dynlib": dynlib.__version__,
           "numpy": np.__version__, "cases": cases}, sys.stdout)

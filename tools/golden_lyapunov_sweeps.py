"""Golden numbers of the reference's Lyapunov sweeps (analysis.md §1.4-1.5), for
dynlib-runtime/tests/sweep.rs. Run with dynlib==0.42.0, numba and scipy installed:

    python tools/golden_lyapunov_sweeps.py > tests/data/golden/lyapunov_sweeps.json

jit=True: the reference's Numba path multiplies `x**2` as dynlib does (DESIGN.md); its
interpreted path calls libm pow, which differs in the last bit now and then, and the Hénon
map's chaos makes that a different trajectory.
"""
import json

import numpy as np
from dynlib import setup
from dynlib.analysis import sweep as sw

logistic = setup("builtin://map/logistic", jit=True)
r = sw.lyapunov_mle_sweep(logistic, param="r", values=np.linspace(3.5, 4.0, 6), N=1000, transient=500)
henon = setup("builtin://map/henon", jit=True)
s = sw.lyapunov_spectrum_sweep(henon, param="a", values=np.array([1.2, 1.4]), k=2, N=2000)
lorenz = setup("builtin://ode/lorenz", stepper="rk4", jit=True)
l = sw.lyapunov_mle_sweep(lorenz, param="rho", values=np.linspace(20, 30, 3), T=20.0, dt=0.01)
print(json.dumps({
    "logistic": {"r": "linspace(3.5, 4.0, 6)", "N": 1000, "transient": 500,
                 "mle": [float(x) for x in r["mle"]],
                 "log_growth": [float(x) for x in r["log_growth"]]},
    "henon": {"a": [1.2, 1.4], "k": 2, "N": 2000,
              "spectrum": [[float(x) for x in row] for row in s["spectrum"]]},
    "lorenz": {"rho": "linspace(20, 30, 3)", "T": 20.0, "dt": 0.01, "stepper": "rk4",
               "mle": [float(x) for x in l["mle"]]},
}, indent=1))

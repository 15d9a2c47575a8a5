"""Golden numbers of the reference's Lyapunov observers on a flow with every stepper that
advances a tangent (runtime.md §2.7, §4.2-4.3), for dynlib-runtime/tests/observers.rs.
Run with dynlib==0.42.0, numba and scipy installed:

    python tools/golden_lyapunov_flows.py > tests/data/golden/lyapunov_flows.json

Lorenz (sigma 10, rho 28, beta 8/3, x = y = z = 1), dt 0.01, T 20, trace stride 100, with
and without a transient of 1: the maximum exponent (combined mode for euler, rk2, rk4;
tangent-only for ab2, ab3) and the spectrum with k = 3 (always tangent-only): the
observers' outputs. Traces are left out: the reference's rows are labelled with steps
0, 100, ..., 1900, dynlib's fall after steps 100, 200, ..., 2000 and carry their step, so
only the accumulated outputs compare.
"""
import json

from dynlib import setup
from dynlib.runtime.observers import lyapunov_mle_observer, lyapunov_spectrum_observer

cases = []
for stepper in ["euler", "rk2", "rk4", "ab2", "ab3"]:
    for observer in ["mle", "spectrum"]:
        for transient in [0.0, 1.0]:
            sim = setup("builtin://ode/lorenz", stepper=stepper, jit=True)
            if observer == "mle":
                obs, key = lyapunov_mle_observer(sim.model, record_interval=100), "lyapunov_mle"
            else:
                obs = lyapunov_spectrum_observer(sim.model, k=3, record_interval=100)
                key = "lyapunov_spectrum"
            sim.run(T=20.0, dt=0.01, record_interval=100, ic=[1.0, 1.0, 1.0],
                    params=[10.0, 28.0, 8.0 / 3.0], transient=transient, observers=obs)
            r = sim.results().observers[key]
            cases.append({
                "stepper": stepper,
                "observer": observer,
                "transient": transient,
                "outputs": {n: float(v) for n, v in zip(r["output_names"], r["out"])},
            })
print(json.dumps({"model": "builtin://ode/lorenz", "T": 20.0, "dt": 0.01,
                  "record_interval": 100, "cases": cases}, indent=1))

"""The Python reference's speed on the run that benches/simulate.rs measures (Lorenz RK4,
T = 100, dt = 0.01, 10^4 steps, best of 3 after a reset). Needs dynlib==0.42.0 (and numba for
jit=True) in a virtualenv outside the repository:

    python tools/bench_reference.py
"""
import time, dynlib
for jit in (False, True):
    try:
        sim = dynlib.setup("builtin://ode/lorenz", stepper="rk4", jit=jit)
    except Exception as e:
        print("jit", jit, "unavailable:", e); continue
    sim.run(T=1.0, dt=0.01)
    best = 1e9
    for _ in range(3):
        sim.reset()
        t = time.perf_counter(); sim.run(T=100.0, dt=0.01); best = min(best, time.perf_counter() - t)
    print(f"reference jit={jit}: lorenz rk4 10^4 steps {best*1e3:.2f} ms = {best/1e4*1e6:.3f} us/step")

# The sweeps benches/batch.rs measures (best of 3, after a warm-up sweep that compiles):
# the logistic map over 10,000 values of r (1,000 iterations after a 1,000-iteration
# transient) and Lorenz over 256 values of rho (RK4, dt = 0.001, T = 100, every 100th step).
import numpy as np
from dynlib.analysis import sweep

def best_of(f, n=3):
    f()
    best = 1e9
    for _ in range(n):
        t = time.perf_counter(); f(); best = min(best, time.perf_counter() - t)
    return best

logistic = dynlib.setup("builtin://map/logistic", jit=True)
rs = np.linspace(2.5, 4.0, 10000)
b = best_of(lambda: sweep.scalar_sweep(logistic, param="r", values=rs, var="x", N=1000, transient=1000))
print(f"reference jit=True: logistic scalar sweep 10,000 r {b*1e3:.1f} ms")

lorenz = dynlib.setup("builtin://ode/lorenz", stepper="rk4", jit=True)
rhos = np.linspace(0.0, 200.0, 256)
b = best_of(lambda: sweep.scalar_sweep(lorenz, param="rho", values=rhos, var="x", T=100.0, dt=0.001,
                                       record_interval=100, max_steps=200000))
print(f"reference jit=True: lorenz scalar sweep 256 rho {b*1e3:.1f} ms")

# The stiff runs benches/stiff.rs measures (the median of five warm runs after a reset,
# the reference's default internal Jacobian): Van der Pol mu = 100 to T = 300 and
# Robertson to 1e5 at rtol 1e-6, atol 1e-10, with bdf2a and tr-bdf2a.
import statistics, os
ROBERTSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "models", "robertson.toml")
for uri, T, params in (("builtin://ode/vanderpol", 300.0, [100.0]), (ROBERTSON, 1e5, [0.04, 3e7, 1e4])):
    for stepper in ("bdf2a", "tr-bdf2a"):
        sim = dynlib.setup(uri, stepper=stepper, jit=True)
        times = []
        for _ in range(6):
            sim.reset()
            t = time.perf_counter(); sim.run(T=T, record_interval=10**9, params=params)
            times.append(time.perf_counter() - t)
        name = "vanderpol mu=100" if "vanderpol" in uri else "robertson"
        print(f"reference jit=True: {name} {stepper} {statistics.median(times[1:])*1e3:.2f} ms")

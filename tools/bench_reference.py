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

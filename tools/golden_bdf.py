"""scipy's BDF (the method dynlib's `bdf` stepper implements) and a tight Radau on two stiff
problems, for dynlib-runtime/tests/stiff.rs:

    python tools/golden_bdf.py > tests/data/golden/bdf_scipy.json

Robertson (k1 = 0.04, k2 = 3e7, k3 = 1e4, y = (1, 0, 0)) to t = 1e5 at rtol 1e-6,
atol 1e-10; Van der Pol with mu = 100 from (2, 0) to t = 300 at rtol 1e-5, atol 1e-8
(dynlib's defaults). Both with the analytic Jacobian. For each: scipy BDF's step count and
counters and final state, and Radau's final state at rtol 1e-12.
"""
import json
from scipy.integrate import solve_ivp

def rob(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [-k1*y[0] + k3*y[1]*y[2], k1*y[0] - k2*y[1]**2 - k3*y[1]*y[2], k2*y[1]**2]
def rob_jac(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [[-k1, k3*y[2], k3*y[1]], [k1, -2*k2*y[1]-k3*y[2], -k3*y[1]], [0, 2*k2*y[1], 0]]
MU = 100.0
def vdp(t, y):
    return [y[1], MU*(1 - y[0]**2)*y[1] - y[0]]
def vdp_jac(t, y):
    return [[0, 1], [-2*MU*y[0]*y[1] - 1, MU*(1 - y[0]**2)]]

out = {}
for name, f, jac, y0, T, rtol, atol in (
    ("robertson", rob, rob_jac, [1, 0, 0], 1e5, 1e-6, 1e-10),
    ("vanderpol_mu100", vdp, vdp_jac, [2, 0], 300.0, 1e-5, 1e-8),
):
    b = solve_ivp(f, (0, T), y0, method="BDF", jac=jac, rtol=rtol, atol=atol)
    r = solve_ivp(f, (0, T), y0, method="Radau", jac=jac, rtol=1e-12, atol=1e-16)
    out[name] = {
        "t_end": T, "rtol": rtol, "atol": atol,
        "bdf": {"steps": len(b.t) - 1, "nfev": int(b.nfev), "njev": int(b.njev),
                "nlu": int(b.nlu), "y": b.y[:, -1].tolist()},
        "radau_y": r.y[:, -1].tolist(),
    }
print(json.dumps(out, indent=1))

"""The Robertson problem's solution by a tight scipy Radau, for dynlib-runtime/tests/stiff.rs:

    python tools/golden_robertson.py > tests/data/golden/robertson_radau.json

k1 = 0.04, k2 = 3e7, k3 = 1e4, y = (1, 0, 0), t from 0 to 1e5 (issue 11).
"""
import json, numpy as np
from scipy.integrate import solve_ivp
def f(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [-k1*y[0] + k3*y[1]*y[2], k1*y[0] - k2*y[1]**2 - k3*y[1]*y[2], k2*y[1]**2]
def jac(t, y, k1=0.04, k2=3e7, k3=1e4):
    return [[-k1, k3*y[2], k3*y[1]], [k1, -2*k2*y[1]-k3*y[2], -k3*y[1]], [0, 2*k2*y[1], 0]]
times = [0.4, 4.0, 40.0, 400.0, 4000.0, 40000.0, 100000.0]
s = solve_ivp(f, (0, 1e5), [1, 0, 0], method="Radau", rtol=1e-12, atol=1e-16, jac=jac, t_eval=times, dense_output=False)
print(json.dumps({"solver": "scipy Radau rtol=1e-12 atol=1e-16 with the analytic Jacobian", "t": times, "y": s.y.T.tolist(), "nfev": int(s.nfev)}, indent=1))

"""Reference numbers with buffers big enough that the Python reference never grows them.

The reference's buffer growth replays steps (its bug R3); for adaptive steppers the replay
changes the trajectory. dynlib fixes growth, so its results equal the reference's with huge
buffers. This script produces those numbers for the golden cases whose reference run grew
its event buffer under an adaptive stepper. It needs the reference (pip install
dynlib==0.42.0 in a virtualenv outside the repository); the tests only read its output,
tests/data/golden/fixed_buffers.json.

    python tools/golden_fixed_buffers.py > tests/data/golden/fixed_buffers.json
"""
import glob
import json
import math
import os
import sys

import dynlib

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "tests", "data", "golden")


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


out = []
for path in sorted(glob.glob(os.path.join(GOLDEN, "ode_*.json"))):
    g = json.load(open(path))
    for case in g["cases"]:
        r = case["runs"]["nojit"]
        if case["stepper"] != "rk45" or r.get("error") or len(r["events"].get("record_index", [])) < 2:
            continue
        sim = dynlib.setup(g["uri"], stepper="rk45", mods=r.get("mods") or None)
        s = r["settings"]
        sim.run(T=s["T"], dt=s["dt"], cap_rec=1 << 20, cap_evt=1 << 16)
        res = sim.raw_results()
        n, m = res.n, res.m
        logged = {}
        view = sim.results()
        for name in r["events"]["names"]:
            ev = view.event(name)
            logged[name] = {"fields": list(ev.fields), "rows": [[num(v) for v in row] for row in ev.table()]}
        out.append({
            "model": os.path.basename(path)[:-5],
            "group": case["group"],
            "stepper": "rk45",
            "settings": s,
            "mods": r.get("mods"),
            "n_records": int(n),
            "step_count_final": int(res.step_count_final),
            "t": [num(v) for v in res.T_view],
            "final_state": [num(v) for v in res.final_state],
            "events": logged,
            "record_index": [int(v) for v in res.EVT_INDEX_view[:m]],
        })
json.dump({"generator": "tools/golden_fixed_buffers.py", "dynlib": dynlib.__version__, "cases": out}, sys.stdout, indent=1)

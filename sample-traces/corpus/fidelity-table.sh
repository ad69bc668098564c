#!/usr/bin/env bash
# fidelity-table.sh [ASITRACE] — replays every corpus recording under noasi and prints the fidelity table of
# docs/fidelity-corpus.md (per recording and check: basis, trace, model, error, verdict), then the worst error.
set -euo pipefail
asitrace=${1:-asitrace}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in "$here"/*/; do
  [ -d "$d/snapshot-start" ] || continue
  n=$(basename "$d")
  "$asitrace" replay "$d" --policy noasi --json -o "$tmp/$n" > "$tmp/$n.json" 2>/dev/null
done
python3 - "$tmp" "$here" <<'PY'
import json, os, sys
tmp, here = sys.argv[1], sys.argv[2]
summary, detail, worst = [], [], None
for f in sorted(x for x in os.listdir(tmp) if x.endswith(".json")):
    n = f[:-5]
    d = json.load(open(os.path.join(tmp, f)))
    release = d.get("kernel", {}).get("release", "")
    cpus = open(os.path.join(here, n, "snapshot-start", "nproc")).read().strip()
    counts = {"pass": 0, "fail": 0, "vacuous": 0}
    rec_worst = None
    for check, c in d["fidelity"].items():
        if c.get("tolerance") is None: continue
        t, m, v = c["trace"], c["model"], c["verdict"]
        if "distance" in check: err, t_s, m_s = m, "", f"{m:.3f}"
        else:
            err = 0.0 if t == m else (abs(m - t) / abs(t) if t else float("inf"))
            t_s, m_s = f"{t:,.0f}", f"{m:,.0f}"
        counts[v] = counts.get(v, 0) + 1
        e_s = f"{err:.1%}" if err != float("inf") else "n/a"
        detail.append(f"| `{n}` | {check} | {c['basis']} | {t_s} | {m_s} | {e_s} | {'**fail**' if v == 'fail' else v} |")
        if v in ("pass", "fail"):
            if rec_worst is None or err > rec_worst[0]: rec_worst = (err, check)
            if worst is None or err > worst[0]: worst = (err, n, check, v)
    w = f"{rec_worst[0]:.1%} ({rec_worst[1]})" if rec_worst else "—"
    summary.append(f"| `{n}` | {release} | {cpus} | {d['events']:,} | {counts['pass']} | {counts['fail']} | {counts['vacuous']} | {w} |")
print("| recording | kernel | CPUs | events | pass | fail | vacuous | worst judged error |")
print("|---|---|---:|---:|---:|---:|---:|---|")
print("\n".join(summary))
print()
if worst: print(f"Worst judged error across the corpus: {worst[0]:.1%} (`{worst[1]}`, {worst[2]}, {worst[3]}).")
print()
print("| recording | check | basis | trace | model | error | verdict |")
print("|---|---|---|---:|---:|---:|---|")
print("\n".join(detail))
PY

#!/usr/bin/env bash
# How tests/analyses/data/ref_index.csv was made (the input of every R reference in
# tests/analyses/reference/): a 1,500-patient synthetic registry, seed 11, derived by toh, with
# the index-table columns the analyses read.  Rerun from the project root; the committed CSV is
# the reference input, so later changes to the generator do not move the references.
set -euo pipefail
tmp=$(mktemp -d)
.venv/bin/toh simulate --patients 1500 --seed 11 "$tmp/export"
.venv/bin/toh derive "$tmp/export" --out "$tmp/derived" --format csv --failures "$tmp/failures.csv"
.venv/bin/python - "$tmp/derived/index.csv" <<'PY'
import sys
import pandas as pd
cols = ["sex", "age_at_onset", "pregnancy", "pregnancy_associated", "treatment", "side", "bilateral",
        "resolved", "resolution_days", "xr_lower_day", "xr_upper_day", "recurrence_status",
        "recurrence_days", "migration_status", "migration_days", "migration_site", "fracture_event",
        "fracture_days", "avn_event", "avn_days", "died", "patient_followup_days"]
out = pd.read_csv(sys.argv[1])[cols]
out.insert(0, "id", range(1, len(out) + 1))
out.to_csv("tests/analyses/data/ref_index.csv", index=False, lineterminator="\n")
PY

#!/usr/bin/env bash
# scripts/coverage.sh [CSV]: prints line and branch coverage per module from the aggregate JaCoCo report
# (coverage/target/site/jacoco-aggregate/jacoco.csv, written by ./jvhost test) and fails when the overall line
# coverage is under the gate: JVHOST_COVERAGE_MIN (percent), default the figure measured and recorded in README.md.
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
csv=${1:-$root/coverage/target/site/jacoco-aggregate/jacoco.csv}
min=${JVHOST_COVERAGE_MIN:-75}

[[ -f $csv ]] || { echo "coverage: no report at $csv" >&2; exit 1; }

# jacoco.csv: GROUP,PACKAGE,CLASS,INSTRUCTION_MISSED,INSTRUCTION_COVERED,BRANCH_MISSED,BRANCH_COVERED,LINE_MISSED,
# LINE_COVERED,COMPLEXITY_MISSED,COMPLEXITY_COVERED,METHOD_MISSED,METHOD_COVERED
awk -F, -v min="$min" '
    NR == 1 { next }
    {
        bm[$1] += $6; bc[$1] += $7; lm[$1] += $8; lc[$1] += $9
        BM += $6; BC += $7; LM += $8; LC += $9
    }
    function pct(c, m) { return c + m == 0 ? 100 : 100 * c / (c + m) }
    END {
        printf "%-28s %14s %16s\n", "coverage (module)", "lines", "branches"
        n = asorti(lc, names)
        for (i = 1; i <= n; i++) {
            g = names[i]
            printf "%-28s %6.1f %% %6d %7.1f %% %6d\n", g, pct(lc[g], lm[g]), lc[g] + lm[g], pct(bc[g], bm[g]), bc[g] + bm[g]
        }
        printf "%-28s %6.1f %% %6d %7.1f %% %6d\n", "all", pct(LC, LM), LC + LM, pct(BC, BM), BC + BM
        if (pct(LC, LM) < min) {
            printf "coverage: %.1f %% of lines covered, under the gate of %s %%\n", pct(LC, LM), min > "/dev/stderr"
            exit 1
        }
        printf "coverage: %.1f %% of lines covered (gate %s %%)\n", pct(LC, LM), min
    }' "$csv"

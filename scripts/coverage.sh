#!/usr/bin/env bash
# scripts/coverage.sh [CSV]: prints line and branch coverage per module from the aggregate JaCoCo report
# (coverage/target/site/jacoco-aggregate/jacoco.csv, written by ./jvhost test) and fails when the overall line
# coverage is under the gate: JVHOST_COVERAGE_MIN (percent), default 85 (README.md, "Coverage").
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
csv=${1:-$root/coverage/target/site/jacoco-aggregate/jacoco.csv}
min=${JVHOST_COVERAGE_MIN:-85}

[[ -f $csv ]] || { echo "coverage: no report at $csv" >&2; exit 1; }

# jacoco.csv: GROUP,PACKAGE,CLASS,INSTRUCTION_MISSED,INSTRUCTION_COVERED,BRANCH_MISSED,BRANCH_COVERED,LINE_MISSED,
# LINE_COVERED,COMPLEXITY_MISSED,COMPLEXITY_COVERED,METHOD_MISSED,METHOD_COVERED
pct() { awk -v c="$1" -v m="$2" 'BEGIN { printf "%.1f", c + m == 0 ? 100 : 100 * c / (c + m) }'; }

printf '%-28s %16s %18s\n' "coverage (module)" "lines" "branches"
# Per module (GROUP): line and branch counters summed over its classes; POSIX awk (no asorti), sorted by sort.
awk -F, 'NR > 1 { lm[$1] += $8; lc[$1] += $9; bm[$1] += $6; bc[$1] += $7 }
    END { for (g in lc) print g, lc[g], lm[g], bc[g], bm[g] }' "$csv" | sort |
while read -r group lc lm bc bm; do
    printf '%-28s %6s %% of %6d %7s %% of %6d\n' "${group#*/}" "$(pct "$lc" "$lm")" $((lc + lm)) "$(pct "$bc" "$bm")" $((bc + bm))
done
read -r LC LM BC BM < <(awk -F, 'NR > 1 { lm += $8; lc += $9; bm += $6; bc += $7 } END { print lc + 0, lm + 0, bc + 0, bm + 0 }' "$csv")
all=$(pct "$LC" "$LM")
printf '%-28s %6s %% of %6d %7s %% of %6d\n' "all" "$all" $((LC + LM)) "$(pct "$BC" "$BM")" $((BC + BM))
if awk -v a="$all" -v m="$min" 'BEGIN { exit !(a < m) }'; then
    echo "coverage: $all % of lines covered, under the gate of $min % (scripts/coverage.sh)" >&2
    exit 1
fi
echo "coverage: $all % of lines covered (gate $min %)"

#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/coverage-check.sh [--core] [COVDIR]: line and branch coverage of
# daemon/*.c, client-lib/*.c, common/*.c and ctl/*.c from a gcov build
# (make coverage: gcc --coverage in build/cov, after the unit and
# integration tests ran), held
# to the floors of tests/coverage-floors.txt: one per file (lines and
# branches), a default for a file not named there, and one for each tree
# as a whole.  A floor is what the tests reach, less a margin for the
# branches only a busy machine takes; raise it when tests improve, and
# never lower it to let a change in (say why in the commit if you must).
#
# --core: the unit tests alone ran (make check-coverage): only the files
# marked "core" in the floors are held to theirs.
# Prints a table and every figure that falls short; exit 1 if any does.
# COVDIR defaults to build/cov.  Coverage says a line ran, not that a test
# would notice it breaking: that is the mutation gate's job (make mutants).
set -u
cd "$(dirname "$0")/.."
CORE=0
if [ "${1:-}" = --core ]; then CORE=1; shift; fi
COV=${1:-build/cov}
FLOORS=tests/coverage-floors.txt

if ! ls "$COV"/daemon/*.gcda >/dev/null 2>&1; then
	echo "coverage: no $COV/daemon/*.gcda: run make coverage first"
	exit 1
fi
command -v gcovr >/dev/null || { echo "coverage: gcovr missing (make deps)"; exit 1; }

# One line per file: "file lines_hit lines_total branches_hit branches_total"
SUMMARY=$COV/coverage-summary.txt
gcovr -r . --object-directory "$COV" --filter 'daemon/' \
    --filter 'client-lib/' --filter 'common/' --filter 'ctl/' \
    --json-summary "$COV/coverage.json" "$COV" \
    >/dev/null || exit 1
/usr/bin/python3 - "$COV/coverage.json" >"$SUMMARY" <<'EOF' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
for f in sorted(d["files"], key=lambda f: f["filename"]):
    print(f["filename"], f["line_covered"], f["line_total"],
          f["branch_covered"], f["branch_total"])
EOF

awk -v core="$CORE" '
function pct(a, b) { return b > 0 ? 100 * a / b : 100 }
function check(name, l, lt, b, bt, fl, fb) {
	if (pct(l, lt) < fl)
		why[++short] = sprintf("%s: lines %.1f%% < %s%%", name,
		    pct(l, lt), fl)
	if (pct(b, bt) < fb)
		why[++short] = sprintf("%s: branches %.1f%% < %s%%", name,
		    pct(b, bt), fb)
}
# The floors: "FILE LINES BRANCHES [core]", "default ...", "total DIR/ ...".
FNR == NR {
	if ($0 ~ /^#/ || NF < 3) next
	if ($1 == "total") { tl[$2] = $3; tb[$2] = $4; next }
	fl[$1] = $2; fb[$1] = $3
	if ($4 == "core") iscore[$1] = 1
	next
}
{
	f = $1; dir = substr(f, 1, index(f, "/"))
	if (core && !(f in iscore)) next
	printf "%-24s %6.1f%% %5d/%-5d %6.1f%% %5d/%-5d\n", f,
	    pct($2, $3), $2, $3, pct($4, $5), $4, $5
	L[dir] += $2; LT[dir] += $3; B[dir] += $4; BT[dir] += $5
	seen[f] = 1
	if (f in fl) check(f, $2, $3, $4, $5, fl[f], fb[f])
	else check(f, $2, $3, $4, $5, fl["default"], fb["default"])
}
BEGIN {
	printf "%-24s %18s %20s\n", "file", "lines", "branches"
	short = 0
}
END {
	for (f in fl)
		if (f != "default" && !(f in seen) && (!core || (f in iscore)))
			why[++short] = sprintf("%s: no coverage data", f)
	if (!core)
		for (d in tl) {
			printf "%-24s %6.1f%% %5d/%-5d %6.1f%% %5d/%-5d\n",
			    d " (all)", pct(L[d], LT[d]), L[d], LT[d],
			    pct(B[d], BT[d]), B[d], BT[d]
			check(d " (all)", L[d], LT[d], B[d], BT[d], tl[d], tb[d])
		}
	if (short > 0) {
		print "coverage: FAIL, short of the floors (tests/coverage-floors.txt):"
		for (i = 1; i <= short; i++) print "  " why[i]
		exit 1
	}
	printf "coverage: ok, every file%s at or above its floor\n",
	    core ? " of the core" : " and tree"
}' "$FLOORS" "$SUMMARY"

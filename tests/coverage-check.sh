#!/bin/sh
# tests/coverage-check.sh [--core] [COVDIR]: line and branch coverage of
# every daemon/*.c from a gcov build (make coverage: gcc --coverage in
# build/cov, after the unit and integration tests ran), then the thresholds:
#
#   daemon/session.c, daemon/sock.c    >= 95% lines, >= 90% branches
#   daemon/ as a whole                 >= 85% lines
#
# --core: the unit tests alone ran (make check-coverage): only the first
# two, the state machine's files, are held to their thresholds.
# Prints a table (gcovr if installed, else gcov's own summary) and every
# figure that falls short; exit 1 if any does.  COVDIR defaults to build/cov.
set -u
cd "$(dirname "$0")/.."
CORE=0
if [ "${1:-}" = --core ]; then CORE=1; shift; fi
COV=${1:-build/cov}
STRICT="daemon/session.c daemon/sock.c"
STRICT_LINES=95
STRICT_BRANCHES=90
ALL_LINES=85

if ! ls "$COV"/daemon/*.gcda >/dev/null 2>&1; then
	echo "coverage: no $COV/daemon/*.gcda: run make coverage first"
	exit 1
fi

# One line per file: "file lines_hit lines_total branches_hit branches_total"
SUMMARY=$COV/coverage-summary.txt
if command -v gcovr >/dev/null 2>&1; then
	gcovr -r . --object-directory "$COV" --filter 'daemon/' \
	    --json-summary "$COV/coverage.json" "$COV" >/dev/null || exit 1
	/usr/bin/python3 - "$COV/coverage.json" >"$SUMMARY" <<'EOF' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
for f in sorted(d["files"], key=lambda f: f["filename"]):
    print(f["filename"], f["line_covered"], f["line_total"],
          f["branch_covered"], f["branch_total"])
EOF
else
	# gcov alone: "Lines executed:93.10% of 290" and "Taken at least
	# once:85.00% of 200" per source file.
	: >"$SUMMARY"
	for src in daemon/*.c; do
		obj=$COV/${src%.c}
		# Never run: gcov counts its lines from the .gcno alone.
		[ -f "$obj.gcno" ] || { echo "$src 0 1 0 1" >>"$SUMMARY"; continue; }
		gcov -b -n -o "$obj.gcno" "$src" 2>/dev/null | awk -v f="$src" '
		    $0 ~ "^File .*" f "'"'"'" { mine = 1; next }
		    /^File / { mine = 0 }
		    mine && /^Lines executed:/ {
			split($2, a, "[:%]"); l = a[2]; lt = $4 }
		    mine && /^Taken at least once:/ {
			split($4, b, "[:%]"); br = b[2]; bt = $6 }
		    END { printf "%s %d %d %d %d\n", f, l * lt / 100 + 0.5, lt,
			br * bt / 100 + 0.5, bt }' >>"$SUMMARY"
	done
fi

[ "$CORE" = 1 ] && ALL_LINES=0
awk -v strict="$STRICT" -v sl="$STRICT_LINES" -v sb="$STRICT_BRANCHES" \
    -v al="$ALL_LINES" -v core="$CORE" '
function pct(a, b) { return b > 0 ? 100 * a / b : 100 }
BEGIN {
	n = split(strict, s, " ")
	for (i = 1; i <= n; i++) isstrict[s[i]] = 1
	printf "%-22s %16s %18s\n", "file", "lines", "branches"
	short = 0
}
{
	if (!core || ($1 in isstrict))
		printf "%-22s %6.1f%% %4d/%-4d %6.1f%% %5d/%-5d\n", $1,
		    pct($2, $3), $2, $3, pct($4, $5), $4, $5
	L += $2; LT += $3; B += $4; BT += $5
	if ($1 in isstrict) {
		seen[$1] = 1
		if (pct($2, $3) < sl) {
			why[++short] = sprintf("%s: lines %.1f%% < %d%%", $1,
			    pct($2, $3), sl)
		}
		if (pct($4, $5) < sb) {
			why[++short] = sprintf("%s: branches %.1f%% < %d%%",
			    $1, pct($4, $5), sb)
		}
	}
}
END {
	if (!core)
		printf "%-22s %6.1f%% %4d/%-4d %6.1f%% %5d/%-5d\n",
		    "daemon (all)", pct(L, LT), L, LT, pct(B, BT), B, BT
	if (!core && pct(L, LT) < al)
		why[++short] = sprintf("daemon: lines %.1f%% < %d%%",
		    pct(L, LT), al)
	for (f in isstrict)
		if (!(f in seen))
			why[++short] = sprintf("%s: no coverage data", f)
	if (short > 0) {
		print "coverage: FAIL, short of the thresholds:"
		for (i = 1; i <= short; i++) print "  " why[i]
		exit 1
	}
	if (core)
		printf "coverage: ok (unit tests: %s >= %d%% lines, " \
		    ">= %d%% branches)\n", strict, sl, sb
	else
		printf "coverage: ok (%s >= %d%% lines, >= %d%% " \
		    "branches; daemon >= %d%% lines)\n", strict, sl, sb, al
}' "$SUMMARY"

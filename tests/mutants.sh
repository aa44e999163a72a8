#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/mutants.sh [-l] [ID...]: the mutation gate (make mutants).
#
# Each record of tests/mutants.txt is a small deliberate bug: a file, a
# text that occurs exactly once in it, its replacement, and the tests that
# must notice it.  One at a time, each is applied to a scratch copy of the
# tracked tree (git ls-files; from a tarball, every file outside build/),
# built incrementally there (its own O=build, so objects are reused), and
# its tests run until one fails; two workers, each with its own copy,
# share the list:
#
#   KILLED    a named test failed: the tests notice this bug
#   SURVIVED  every named test passed with the bug in: a hole
#   TIMEOUT   a test ran past MUTANTS_TIMEOUT (a hang is noticed too)
#   STALE     the text no longer occurs exactly once in the file: the
#             record must follow the code (checked for every record, every run)
#   BROKEN    the mutant does not build: the record is wrong
#   EQUIV     marked equivalent in the list (with its reason): not run
#
# Exit 1 on any SURVIVED, STALE or BROKEN record; 2 on a usage error or
# when a named test fails without any mutation (the baseline).
#
#   tests/mutants.sh                 every record
#   tests/mutants.sh ID...           those records
#   tests/mutants.sh -l              list the records, their tests, their why
#   MUTANTS_SAMPLE=K                 K records drawn with MUTANTS_SEED (the
#                                    seed is printed: the same seed, the same
#                                    draw, so a failure reproduces)
#   MUTANTS_TIMEOUT=S                per test run, seconds (default 120)
#   MUTANTS_BASELINE=0               skip running the named tests unmutated
#                                    first (make check ran them already)
#   MUTANTS_DIR=DIR                  scratch trees to (re)use and keep
#                                    (DIR/1, DIR/2); by default temporary
#   MUTANTS_JOBS=N                   workers, 1 or 2 (default 2; make -j1
#                                    each, -j2 for one)
#   MUTANTS_CFLAGS=FLAGS             the scratch build's (default -O0)
#   MUTANTS_LIST=FILE                the list (default tests/mutants.txt)
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$(pwd)
LIST=${MUTANTS_LIST:-tests/mutants.txt}
TMO=${MUTANTS_TIMEOUT:-120}
MAKE=${MAKE:-make}
START=$(date +%s)

# The list's parser, in POSIX awk.  A record is a block of "key: value"
# lines (blank lines between records, # comments).  In from/to, \n is a
# newline, \t a tab, \\ a backslash.
#   mode=list:  one line per record: id TAB file TAB kill TAB equiv(0/1)
#               (fails on a malformed record or a duplicate id)
#   mode=apply: id, src, dst: dst = src with the record's text replaced;
#               exit 3 (and the count) when it does not occur exactly once
# shellcheck disable=SC2016
AWKLIB='
function unesc(s,    out, i, c, n) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\" && i < length(s)) {
			n = substr(s, ++i, 1)
			if (n == "n") c = "\n"
			else if (n == "t") c = "\t"
			else if (n == "\\") c = "\\"
			else c = "\\" n
		}
		out = out c
	}
	return out
}
function bad(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
	err = 1
}
function endrec() {
	if (!inrec)
		return
	inrec = 0
	if (!("id" in R)) { bad("record without id"); return }
	if (!("file" in R)) bad(R["id"] ": no file")
	if (!("from" in R) || R["from"] == "") bad(R["id"] ": no from")
	if (!("to" in R)) bad(R["id"] ": no to")
	if (!("why" in R)) bad(R["id"] ": no why")
	if (!("kill" in R) && !("equiv" in R)) bad(R["id"] ": no kill")
	if (R["id"] in seen) bad(R["id"] ": duplicate id")
	seen[R["id"]] = 1
	if (mode == "list")
		printf "%s\t%s\t%s\t%d\n", R["id"], R["file"], R["kill"], \
		    ("equiv" in R)
	if (mode == "why")
		printf "%s\t%s\t%s\t%s\n", R["id"], R["file"], R["kill"], \
		    ("equiv" in R) ? "EQUIVALENT: " R["equiv"] : R["why"]
	if (mode == "apply" && R["id"] == id) {
		found = 1
		from = unesc(R["from"])
		to = unesc(R["to"])
	}
	for (k in R)
		delete R[k]
}
/^[ \t]*#/ { next }
/^[ \t]*$/ { endrec(); next }
{
	if ((p = index($0, ":")) == 0) { bad("not key: value"); next }
	k = substr($0, 1, p - 1)
	v = substr($0, p + 1)
	sub(/^[ \t]+/, "", v)
	if (k !~ /^(id|file|from|to|kill|why|equiv)$/) {
		bad("unknown key " k); next
	}
	if (k in R) { bad(R["id"] ": " k " twice"); next }
	R[k] = v
	inrec = 1
}
'
# shellcheck disable=SC2016
AWKAPPLY='
END {
	endrec()
	if (err) exit 2
	if (!found) { print "no record " id > "/dev/stderr"; exit 2 }
	text = ""
	while ((getline line < src) > 0)
		text = text line "\n"
	n = 0; rest = text; out = ""
	while ((i = index(rest, from)) > 0) {
		n++
		out = out substr(rest, 1, i - 1) to
		rest = substr(rest, i + length(from))
	}
	if (n != 1) { print n; exit 3 }
	printf "%s", out rest > dst
}
'

parse() {	# parse MODE: the records, one a line
	awk -v mode="$1" "$AWKLIB"'END { endrec(); if (err) exit 2 }' "$LIST"
}

apply() {	# apply ID SRC DST
	awk -v mode=apply -v id="$1" -v src="$2" -v dst="$3" \
	    "$AWKLIB$AWKAPPLY" "$LIST"
}

[ -f "$LIST" ] || { echo "mutants: no $LIST"; exit 2; }
RECS=$(parse list) || { echo "mutants: $LIST is malformed"; exit 2; }

if [ "${1:-}" = -l ]; then
	parse why | awk -F '\t' '{ printf "%-22s %-22s %s\n  %s\n", $1, $2, $3, $4 }'
	exit 0
fi

# Which records: named ones, a sample, or all.
if [ $# -gt 0 ]; then
	SEL=""
	for id in "$@"; do
		printf '%s\n' "$RECS" | cut -f 1 | grep -qxF -- "$id" ||
		    { echo "mutants: no record $id"; exit 2; }
		SEL="$SEL $id"
	done
elif [ -n "${MUTANTS_SAMPLE:-}" ]; then
	SEED=${MUTANTS_SEED:-$(( $(date +%s) % 2147483646 + 1 ))}
	echo "mutants: a sample of $MUTANTS_SAMPLE, MUTANTS_SEED=$SEED" \
	    "(MUTANTS_SAMPLE=$MUTANTS_SAMPLE MUTANTS_SEED=$SEED make mutants" \
	    "draws it again)"
	# Park-Miller (exact in awk's doubles, the same on every awk):
	# a Fisher-Yates shuffle of the runnable records, the first K of it,
	# run in list order.
	SEL=$(printf '%s\n' "$RECS" | awk -F '\t' -v k="$MUTANTS_SAMPLE" \
	    -v x="$SEED" '
		$4 == 0 { id[n++] = $1 }
		END {
			for (i = n - 1; i > 0; i--) {
				x = (x * 16807) % 2147483647
				j = x % (i + 1)
				t = id[i]; id[i] = id[j]; id[j] = t
			}
			for (i = 0; i < k && i < n; i++) print id[i]
		}')
	SEL=$(printf '%s\n' "$RECS" | cut -f 1 | grep -xF "$SEL" | tr '\n' ' ')
else
	SEL=$(printf '%s\n' "$RECS" | cut -f 1 | tr '\n' ' ')
fi

field() {	# field ID N: field N of record ID
	printf '%s\n' "$RECS" | awk -F '\t' -v id="$1" -v n="$2" \
	    '$1 == id { print $n }'
}

# The scratch trees, one per worker ($S/1, $S/2): the tracked files (and
# new ones git does not ignore) as they are in the working tree.  Files
# are copied only when they differ, so a kept MUTANTS_DIR rebuilds only
# what changed (and a mutated file left behind by an interrupted run is
# put back).  Built with MUTANTS_CFLAGS (default -O0: a mutant is a
# compile and a link, and -O0 compiles three times faster than -O2).
JOBS=${MUTANTS_JOBS:-2}
case $JOBS in
1) TREES=1 ;;
2) TREES="1 2" ;;
*) echo "mutants: MUTANTS_JOBS is 1 or 2"; exit 2 ;;
esac
CF=${MUTANTS_CFLAGS:--O0}
MJ=2		# the first builds; then two workers, one make job each
if [ -n "${MUTANTS_DIR:-}" ]; then
	S=$MUTANTS_DIR
	mkdir -p "$S"
	KEEP=1
else
	S=$(mktemp -d "${TMPDIR:-/tmp}/nbmq-mutants.XXXXXX")
	KEEP=0
fi
# int_access runs its binaries as two users it creates: mktemp's 0700
# kept them out, and every mutant it was to judge was "killed" by that.
chmod 755 "$S"
mkdir -p "$S/log"

# The tree's files: git's list, or (a tarball) every file outside build/.
tracked() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files --cached --others --exclude-standard
	else
		find . -path ./build -prune -o -type f -print | sed 's|^\./||'
	fi
}

sync_tree() {	# sync_tree DIR
	mkdir -p "$1"
	# make does not track flags: other flags, another build.
	if [ "$(cat "$1/.cflags" 2>/dev/null)" != "$CF" ]; then
		rm -rf "$1/build"
		printf '%s\n' "$CF" >"$1/.cflags"
	fi
	tracked | while IFS= read -r _f; do
		[ -f "$_f" ] || continue
		if ! cmp -s "$_f" "$1/$_f"; then
			mkdir -p "$1/$(dirname "$_f")"
			cp "$_f" "$1/$_f"
		fi
	done
}

WPIDS=""
cleanup() {
	for _p in $WPIDS; do kill "$_p" 2>/dev/null; done
	wait
	if [ "$KEEP" = 1 ]; then
		for _w in $TREES; do sync_tree "$S/$_w"; done
	else
		rm -rf "$S"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stale records first, all of them: the list must follow the code.
stale=0
STALE=""
for id in $(printf '%s\n' "$RECS" | cut -f 1); do
	f=$(field "$id" 2)
	if [ ! -f "$TOP/$f" ]; then
		echo "STALE    $id: no file $f"
		stale=$((stale + 1)); STALE="$STALE $id"
		continue
	fi
	n=$(apply "$id" "$TOP/$f" /dev/null)
	case $? in
	0) ;;
	3) echo "STALE    $id: its text occurs $n times in $f, not once"
	   stale=$((stale + 1)); STALE="$STALE $id" ;;
	*) echo "mutants: cannot apply $id"; exit 2 ;;
	esac
done

build() {	# build DIR LOG TEST: the targets TEST needs, in tree DIR
	case $3 in
	int_*)	_t=tests ;;
	*)	_t=build/tests/$3 ;;
	esac
	# Its own build: nothing of a calling make's flags (O=, SAN=) leaks
	# in; CFLAGS from the environment, so the Makefile still adds its own.
	(cd "$1" && MAKEFLAGS="" MFLAGS="" CFLAGS="$CF" $MAKE -s -j$MJ O=build \
	    SAN="" "$_t") >"$2" 2>&1
}

runtest() {	# runtest DIR NAME LOG: 0 passed, 124 timed out, else failed
	case $2 in
	test_*) (cd "$1" && CK_FORK=yes timeout "$TMO" "build/tests/$2") \
		    >"$3" 2>&1 ;;
	int_*)	(cd "$1" && O=build VALGRIND=0 timeout "$TMO" \
		    sh "tests/$2.sh") >"$3" 2>&1 ;;
	sim)	(cd "$1" && timeout "$TMO" build/tests/sim -s 1 -n 2000) \
		    >"$3" 2>&1 ;;
	*)	echo "mutants: unknown test $2" >"$3"; return 2 ;;
	esac
}

for w in $TREES; do
	sync_tree "$S/$w"
	if ! build "$S/$w" "$S/log/build.log" int_all; then
		echo "mutants: the unmutated tree does not build:"
		tail -n 20 "$S/log/build.log"
		exit 2
	fi
done
echo "mutants: scratch trees in $S ($TREES), built" \
    "($(( $(date +%s) - START )) s)"

# The baseline: every test named by a selected record passes unmutated
# (else it would "kill" every mutant).
if [ "${MUTANTS_BASELINE:-1}" != 0 ]; then
	for t in $(for id in $SEL; do field "$id" 3; done | tr ' ' '\n' |
	    sort -u); do
		if ! runtest "$S/1" "$t" "$S/log/baseline-$t.log"; then
			echo "mutants: $t fails without any mutation:"
			tail -n 20 "$S/log/baseline-$t.log"
			exit 2
		fi
	done
	echo "mutants: baseline passed ($(( $(date +%s) - START )) s)"
fi

[ "$JOBS" -gt 1 ] && MJ=1

# One mutant in tree DIR: apply, build and run its tests until one fails,
# put the file back; its result line goes to $S/results.
mutant() {	# mutant DIR ID
	_d=$1 _id=$2
	_f=$(field "$_id" 2)
	_tests=$(field "$_id" 3)
	_t0=$(date +%s)
	apply "$_id" "$TOP/$_f" "$_d/$_f" >/dev/null
	_log=$S/log/$_id.log
	_res="" _by=""
	# Each test's targets are built just before it runs: a mutant killed
	# by its first (unit) test never waits for the whole tree to link.
	for _x in $_tests; do
		if ! build "$_d" "$_log.build" "$_x"; then
			_res=BROKEN
			break
		fi
		runtest "$_d" "$_x" "$_log.$_x"
		_rc=$?
		[ $_rc = 0 ] && continue
		_res=KILLED
		[ $_rc = 124 ] && _res=TIMEOUT
		_by=$_x
		break
	done
	cp "$TOP/$_f" "$_d/$_f"
	_el=$(( $(date +%s) - _t0 ))
	case $_res in
	"")	echo "SURVIVED $_id ($_f; $_tests all passed; ${_el} s)"
		_res=SURVIVED ;;
	BROKEN)	echo "BROKEN   $_id: does not build: $(grep -m 1 error \
		    "$_log.build")" ;;
	*)	printf '%-8s %-34s by %s (%d s)\n' "$_res" "$_id" "$_by" \
		    "$_el" ;;
	esac
	echo "$_res $_id" >>"$S/results"
}

# Records that may need an integration test all go to worker 1, so that
# two never run at once (int_liveness measures time); the others to the
# worker with less work ahead (an integration test counts 10, a unit 3).
: >"$S/results"
equiv=0
L1="" L2=""
w1=0 w2=0
for id in $SEL; do
	case " $STALE " in *" $id "*) continue ;; esac
	if [ "$(field "$id" 4)" = 1 ]; then
		echo "EQUIV    $id"
		equiv=$((equiv + 1))
		continue
	fi
	case " $(field "$id" 3)" in
	*" int_"*) L1="$L1 $id"; w1=$((w1 + 10)); continue ;;
	esac
	if [ "$JOBS" = 1 ] || [ $w1 -le $w2 ]; then
		L1="$L1 $id"; w1=$((w1 + 3))
	else
		L2="$L2 $id"; w2=$((w2 + 3))
	fi
done
( for id in $L1; do mutant "$S/1" "$id"; done ) &
WPIDS=$!
if [ -n "$L2" ]; then
	( for id in $L2; do mutant "$S/2" "$id"; done ) &
	WPIDS="$WPIDS $!"
fi
wait
WPIDS=""

count() { grep -c "^$1 " "$S/results"; }
killed=$(count KILLED) survived=$(count SURVIVED)
timedout=$(count TIMEOUT) broken=$(count BROKEN)
SURV=$(sed -n 's/^SURVIVED //p' "$S/results" | tr '\n' ' ')
el=$(( $(date +%s) - START ))
echo "mutants: $killed killed, $survived survived, $timedout timeout," \
    "$stale stale, $broken broken, $equiv equivalent" \
    "in $((el / 60))m$((el % 60))s"
[ -z "$SURV" ] || echo "mutants: survivors: $SURV"
[ -z "$STALE" ] || echo "mutants: stale:$STALE"
[ $((survived + stale + broken)) = 0 ]

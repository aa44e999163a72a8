#!/bin/sh
# SPDX-License-Identifier: ISC
# The man pages of the three programs say what their --help says: every
# option of --help (the option column of each line that starts with one:
# "  -S path   ...", "  -V, --version  ...") is an option of the page's
# OPTIONS section (the line after each .TP) and the other way round; and
# nbmqctl's commands in --help are the subsections of nbmqctl(8)'s
# COMMANDS.  Every page renders without a warning and without a stray
# mdoc macro name (nbmqctl(8) once showed "peers Op socket").
. "$(dirname "$0")/lib.sh"

# help_opts PROG: the options of PROG --help, one a line, sorted.
help_opts() {
	"$BIN/$1" --help | sed -n 's/^  \(-[^ ].*\)$/\1/p' |
	    sed 's/   *.*//; s/  .*//' | tr ', ' '\n\n' | grep '^-' | sort -u
}

# page_opts PAGE: the options of the page's OPTIONS section.
page_opts() {
	awk '/^\.SH OPTIONS/ { o = 1; next } /^\.SH/ { o = 0 }
	    o && prev == ".TP" { print } { prev = $0 }' "$1" |
	    sed 's/\\-/-/g' | grep -o -E -- '--[a-z][a-z-]*|-[A-Za-z0-9]' |
	    sort -u
}

n=0
for pp in nbmqd:nbmqd.8 nbmqctl:nbmqctl.8 nbmqcat:nbmqcat.1; do
	p=${pp%%:*}
	page=$TOP/docs/${pp#*:}
	help_opts "$p" >"$T/help.opts"
	page_opts "$page" >"$T/page.opts"
	[ "$(wc -l <"$T/help.opts")" -ge 4 ] ||
	    fail "$p --help: too few options found: $(cat "$T/help.opts")"
	diff "$T/help.opts" "$T/page.opts" >"$T/diff" || fail "$p: --help \
(<) and ${pp#*:} (>) differ: $(grep '^[<>]' "$T/diff" | tr '\n' ' ')"
	n=$((n + $(wc -l <"$T/help.opts")))
done

# nbmqctl's commands.
"$BIN/nbmqctl" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort \
    >"$T/help.cmds"
awk '/^\.SH COMMANDS/ { c = 1; next } /^\.SH/ { c = 0 }
    c && /^\.SS/ { sub(/^\.SS "?/, ""); sub(/[ "].*/, ""); print }' \
    "$TOP/docs/nbmqctl.8" | sort >"$T/page.cmds"
[ "$(wc -l <"$T/help.cmds")" -ge 5 ] || fail "nbmqctl --help: commands?"
diff "$T/help.cmds" "$T/page.cmds" >"$T/diff" || fail "nbmqctl: --help \
(<) and nbmqctl.8 COMMANDS (>) differ: $(grep '^[<>]' "$T/diff" | tr '\n' ' ')"

if have man man-db; then
	for f in "$TOP"/docs/*.[1-8]; do
		MANWIDTH=80 man --warnings -l "$f" >"$T/man.txt" 2>"$T/man.err" ||
		    fail "man $f"
		[ ! -s "$T/man.err" ] || fail "man $f: $(head -n 3 "$T/man.err")"
		! grep -n -w -E 'Op|Oo|Oc|Ar|Fl|Nm|Xr|Pa|Cm|Ic|Sx|Ns|Ql' \
		    "$T/man.txt" >"$T/stray" ||
		    fail "man $f: stray mdoc macros: $(head -n 3 "$T/stray")"
	done
fi
ok "nbmqd(8), nbmqctl(8), nbmqcat(1): the $n options of --help are the pages' and no others; nbmqctl's $(wc -l <"$T/help.cmds") commands are nbmqctl(8)'s; pages render without warnings or stray macros"

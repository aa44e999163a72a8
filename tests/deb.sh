#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/deb.sh (make deb): the Debian packages, built as a packager does
# (dpkg-buildpackage -us -uc -b, which runs the unit tests) from a copy of
# the tracked tree in a temporary directory, then checked: lintian has no
# error, each package holds what it must, the configuration is a conffile,
# the library's symbols are all listed.  The .debs are left in
# build/deb/.  Needs debhelper and lintian (make deb installs them).
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$(pwd)
OUT=$TOP/build/deb
T=$(mktemp -d "${TMPDIR:-/tmp}/nbmq-deb.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL deb: $*"; exit 1; }

mkdir -p "$T/nbmq"
if [ -d .git ]; then
	git ls-files -z | xargs -0 cp --parents -t "$T/nbmq" ||
	    fail "copy the tracked tree"
else
	tar -cf - --exclude=./build . | tar -xf - -C "$T/nbmq"
fi
(cd "$T/nbmq" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1 ||
    { tail -n 40 "$T/build.log"; fail "dpkg-buildpackage"; }
tests=$(grep -c '^100%: Checks' "$T/build.log")
[ "$tests" -gt 0 ] || fail "the package build ran no unit test"
lintian --fail-on error --tag-display-limit 0 -I "$T"/*.changes \
    >"$T/lintian.txt" 2>&1
rc=$?
grep -v '^running with root' "$T/lintian.txt"
[ $rc -eq 0 ] || fail "lintian found errors"

has() {	# has PACKAGE PATH...
	_p=$1; shift
	dpkg -c "$T/${_p}_"*.deb >"$T/$_p.list" || fail "dpkg -c $_p"
	for _f; do
		grep -q " \./$_f\$" "$T/$_p.list" || fail "$_p lacks /$_f"
	done
}
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
has nbmqd usr/sbin/nbmqd lib/systemd/system/nbmqd.service \
    usr/lib/sysusers.d/nbmqd.conf etc/nbmq/nbmqd.conf \
    usr/share/man/man8/nbmqd.8.gz usr/share/man/man5/nbmqd.conf.5.gz
has libnbmq0 "usr/lib/$MA/libnbmq.so.0.1.0"
has libnbmq-dev usr/include/nbmq.h usr/include/nbmq_encryptor.h \
    "usr/lib/$MA/libnbmq.a" "usr/lib/$MA/pkgconfig/nbmq.pc" \
    usr/share/man/man3/libnbmq.3.gz
has nbmq-tools usr/bin/nbmqcat usr/bin/nbmqctl
has python3-nbmq usr/lib/python3/dist-packages/nbmq/__init__.py \
    usr/lib/python3/dist-packages/nbmq/asyncio.py
# The binding as installed, on the library as installed.
for p in python3-nbmq libnbmq0; do
	dpkg-deb -x "$T/${p}_"*.deb "$T/root" || fail "dpkg-deb -x $p"
done
out=$(PYTHONPATH=$T/root/usr/lib/python3/dist-packages \
    NBMQ_LIBRARY=$T/root/usr/lib/$MA/libnbmq.so.0 /usr/bin/python3 -c \
    'import nbmq, nbmq.asyncio; print(nbmq.__file__, nbmq.core.SPEEDUPS)' \
    2>&1) || fail "python3-nbmq does not import: $out"
# Its C part (nbmq/_speedups.c) built, installed and loaded.
case $out in *" True") ;; *) fail "python3-nbmq without its C part: $out" ;; esac
dpkg-deb -e "$T"/nbmqd_*.deb "$T/ctl" || fail "dpkg-deb -e"
grep -qx /etc/nbmq/nbmqd.conf "$T/ctl/conffiles" || fail "no conffile"
grep -q "systemd-sysusers.* nbmqd.conf" "$T/ctl/postinst" || fail "postinst makes no user"
grep -q "libdir=/usr/lib/$MA" "$T/nbmq/debian/libnbmq-dev/usr/lib/$MA/pkgconfig/nbmq.pc" ||
    fail "nbmq.pc's libdir"
mkdir -p "$OUT"
cp "$T"/*.deb "$OUT/"
echo "ok   deb: $(cd "$OUT" && ls *.deb | grep -v dbgsym | tr '\n' ' ')in build/deb; $tests unit suites run by the build; lintian: no error ($(grep -c '^W:' "$T/lintian.txt") warnings, $(grep -c '^I:' "$T/lintian.txt") infos)"

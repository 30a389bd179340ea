# The "ok - …"/"not ok - …" reporting the recipes' own tests share (sourced, not run):
#   ok NAME; not_ok NAME [DETAIL...]; check NAME EXPECTED ACTUAL; report (summary line, non-zero if any failed)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	shift
	local line
	for line in "$@"; do echo "    $line"; done
}
check() { # NAME EXPECTED ACTUAL
	if [[ "$2" == "$3" ]]; then
		ok "$1"
	else
		not_ok "$1" "expected: $(printf %q "$2")" "actual:   $(printf %q "$3")"
	fi
}
report() {
	echo "$pass passed, $fail failed${1:+, $1}"
	((fail == 0))
}

#!/bin/sh
# Generate the pie's raw system call stubs from arch/x86/syscalls.tbl.
# Each stub returns the kernel's answer as is: -errno on failure.
set -e
tbl=$1
echo "/* Generated from $tbl by scripts/gen-syscalls.sh: do not edit. */"
echo "#ifndef CREST_PIE_SYSCALLS_H"
echo "#define CREST_PIE_SYSCALLS_H"
echo "#include \"arch-syscall.h\""
grep -v '^#' "$tbl" | while read -r name nr argc; do
	[ -n "$name" ] || continue
	case $argc in
	0) echo "static inline long sys_$name(void) { return __sys0($nr); }" ;;
	1) echo "static inline long sys_$name(unsigned long a) { return __sys1($nr, a); }" ;;
	2) echo "static inline long sys_$name(unsigned long a, unsigned long b) { return __sys2($nr, a, b); }" ;;
	3) echo "static inline long sys_$name(unsigned long a, unsigned long b, unsigned long c) { return __sys3($nr, a, b, c); }" ;;
	4) echo "static inline long sys_$name(unsigned long a, unsigned long b, unsigned long c, unsigned long d) { return __sys4($nr, a, b, c, d); }" ;;
	5) echo "static inline long sys_$name(unsigned long a, unsigned long b, unsigned long c, unsigned long d, unsigned long e) { return __sys5($nr, a, b, c, d, e); }" ;;
	6) echo "static inline long sys_$name(unsigned long a, unsigned long b, unsigned long c, unsigned long d, unsigned long e, unsigned long f) { return __sys6($nr, a, b, c, d, e, f); }" ;;
	*) echo "bad argc for $name" >&2; exit 1 ;;
	esac
done
echo "#endif"

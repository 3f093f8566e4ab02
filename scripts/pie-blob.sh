#!/bin/sh
# Turn a linked pie ELF into a C array, refusing anything the loader would
# have to fix up: crest copies the bytes to an arbitrary address as they are.
#   pie-blob.sh NAME ELF OUT.h
set -e
name=$1 elf=$2 out=$3
if readelf -rW "$elf" | grep -q 'Relocation section'; then
	echo "$elf: the blob needs relocations; pie code must be position independent:" >&2
	readelf -rW "$elf" >&2
	exit 1
fi
und=$(nm -u "$elf")
if [ -n "$und" ]; then
	echo "$elf: undefined symbols (pie/ has no libc): $und" >&2
	exit 1
fi
bin=$out.bin
objcopy -O binary --only-section=.text "$elf" "$bin"
size=$(stat -c %s "$bin")
{
	echo "/* Generated from $elf by scripts/pie-blob.sh: do not edit. */"
	echo "static const unsigned char ${name}_blob[] __attribute__((aligned(16))) = {"
	od -An -v -tx1 "$bin" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
	echo "};"
	echo "#define ${name}_blob_size ${size}UL"
	# Offsets of the symbols crest needs to know.
	nm "$elf" | awk -v n="$name" '$3 == "pie_syscall" { printf "#define %s_off_syscall 0x%sUL\n", n, $1 }'
	nm "$elf" | awk -v n="$name" '$3 == "pie_rsys" { printf "#define %s_off_rsys 0x%sUL\n", n, $1 }'
	nm "$elf" | awk -v n="$name" '$3 == "pie_orphan_entry" { printf "#define %s_off_orphan 0x%sUL\n", n, $1 }'
} > "$out.tmp"
mv "$out.tmp" "$out"
rm -f "$bin"

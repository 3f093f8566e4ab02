# crest: one non-recursive Makefile. Generated files live in $(B) only.
# make            build ./crest
# make check      install missing deps, unit tests, then test/run
# make demo       install missing deps, checkpoint and restore a sample tree
# make install    crest, the BLCR links, man pages, bash completion under
#                 $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); make uninstall
# make V=1        show the commands
B	?= build
CC	?= gcc
V	?= 0
ifeq ($(V),0)
Q	:= @
say	= @printf '  %-7s %s\n' $(1) $(2);
else
Q	:=
say	=
endif

WARN	 := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS	 ?= -O2 -g
CFLAGS	 += -std=gnu11 $(WARN) -D_GNU_SOURCE -msse4.2
CPPFLAGS := -Iinclude -Iarch/x86/include -Isrc -I$(B)/proto -I$(B)/pie
LDLIBS	 := -lprotobuf-c -lcrypto -lzstd

PROTOS	:= $(wildcard proto/*.proto)
PROTO_C	:= $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS))
PROTO_H	:= $(PROTO_C:.c=.h)
PROTO_O	:= $(PROTO_C:.c=.o)

SRC	:= $(wildcard src/*.c) $(wildcard arch/x86/*.c)
OBJ	:= $(patsubst %.c,$(B)/%.o,$(SRC))
LIB_OBJ	:= $(filter-out $(B)/src/main.o,$(OBJ)) $(PROTO_O)

# BLCR's command line: crest run as cr_checkpoint, cr_restart or cr_run.
BLCR_TOOLS := cr_checkpoint cr_restart cr_run

all: crest $(BLCR_TOOLS)

# ---- pie blobs ----
PIE_CFLAGS := -O2 -g0 -std=gnu11 $(WARN) -ffreestanding -fno-builtin -nostdlib \
	-fpie -fvisibility=hidden -fno-stack-protector -fno-stack-check \
	-fcf-protection=none -mgeneral-regs-only -fno-jump-tables \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -mno-red-zone \
	-fno-exceptions -Iinclude -Iarch/x86/include -I$(B)/pie -Ipie

$(B)/pie/pie-syscalls.h: arch/x86/syscalls.tbl scripts/gen-syscalls.sh
	$(call say,GEN,$@)mkdir -p $(@D) && scripts/gen-syscalls.sh $< > $@.tmp && mv $@.tmp $@

$(B)/pie/%.o: pie/%.c $(B)/pie/pie-syscalls.h include/pie-abi.h pie/pie-lib.h arch/x86/include/arch-crc.h arch/x86/include/arch-syscall.h
	$(call say,PIECC,$<)mkdir -p $(@D) && $(CC) $(PIE_CFLAGS) -c $< -o $@

$(B)/pie/entry.o: arch/x86/pie-entry.S
	$(call say,PIEAS,$<)mkdir -p $(@D) && $(CC) $(PIE_CFLAGS) -c $< -o $@

$(B)/pie/%.elf: $(B)/pie/%.o $(B)/pie/entry.o pie/pie.lds
	$(call say,PIELD,$@)ld -static -pie --no-dynamic-linker -z text -z noexecstack \
		--no-undefined --no-warn-rwx-segments -T pie/pie.lds -o $@ $(B)/pie/entry.o $<

$(B)/pie/%-blob.h: $(B)/pie/%.elf scripts/pie-blob.sh
	$(call say,BLOB,$@)scripts/pie-blob.sh $* $< $@

# ---- protobuf ----
$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	$(call say,PROTO,$<)mkdir -p $(B)/proto && protoc-c --proto_path=proto --c_out=$(B)/proto $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c
	$(call say,CC,$<)$(CC) $(CFLAGS) -Wno-unused-parameter $(CPPFLAGS) -c $< -o $@

# ---- crest ----
$(B)/%.o: %.c $(PROTO_H) $(B)/pie/parasite-blob.h $(B)/pie/restorer-blob.h
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(CFLAGS) $(CPPFLAGS) -MMD -c $< -o $@

$(B)/libcrest.a: $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

crest: $(B)/src/main.o $(B)/libcrest.a
	$(call say,LD,$@)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
	$(Q)for t in $(BLCR_TOOLS); do ln -sfn crest $$t; done

$(BLCR_TOOLS): crest
	$(call say,LN,$@)ln -sfn crest $@

-include $(OBJ:.o=.d)
include test/Makefile.inc

deps:
	$(Q)scripts/deps.sh

lint:
	$(Q)cppcheck -q --enable=warning,portability --inline-suppr -Iinclude -Isrc -Iarch/x86/include src arch pie

check: deps
	$(Q)$(MAKE) --no-print-directory crest test-build
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)python3 test/run

demo: deps
	$(Q)$(MAKE) --no-print-directory crest
	$(Q)scripts/demo.sh

# make bench: scripts/bench (BENCH="--sizes 1,64 --runs 5" for other figures); not part of check
$(B)/bench/%: test/bench/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) -O2 -g -std=gnu11 $(WARN) -D_GNU_SOURCE -o $@ $<

bench: deps
	$(Q)$(MAKE) --no-print-directory crest $(B)/bench/hog $(B)/bench/floor
	$(Q)B=$(B) scripts/bench $(BENCH)

# ---- install ----
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
COMPDIR	?= $(PREFIX)/share/bash-completion/completions
INSTALL	?= install

install: all
	$(call say,INSTALL,$(DESTDIR)$(PREFIX))$(INSTALL) -d $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPDIR)
	$(Q)$(INSTALL) -m 0755 crest $(DESTDIR)$(BINDIR)/crest
	$(Q)for t in $(BLCR_TOOLS); do ln -sfn crest $(DESTDIR)$(BINDIR)/$$t; done
	$(Q)$(INSTALL) -m 0644 Documentation/crest.8 $(DESTDIR)$(MANDIR)/man8/crest.8
	$(Q)for t in $(BLCR_TOOLS); do \
		$(INSTALL) -m 0644 Documentation/$$t.1 $(DESTDIR)$(MANDIR)/man1/$$t.1; done
	$(Q)$(INSTALL) -m 0644 scripts/crest-completion.bash $(DESTDIR)$(COMPDIR)/crest
	$(Q)for t in $(BLCR_TOOLS); do ln -sfn crest $(DESTDIR)$(COMPDIR)/$$t; done

uninstall:
	$(call say,RM,$(DESTDIR)$(PREFIX))rm -f $(DESTDIR)$(BINDIR)/crest \
		$(DESTDIR)$(MANDIR)/man8/crest.8 $(DESTDIR)$(COMPDIR)/crest
	$(Q)for t in $(BLCR_TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t \
		$(DESTDIR)$(MANDIR)/man1/$$t.1 $(DESTDIR)$(COMPDIR)/$$t; done

clean:
	rm -rf $(B) crest $(BLCR_TOOLS)

.PHONY: all deps check demo clean lint unit test-build bench install uninstall
.SECONDARY:

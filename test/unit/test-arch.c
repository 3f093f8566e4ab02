/*
 * Unit tests for arch/x86/regs.c: a syscall interrupted by the dump
 * restarted the way the kernel would (arch_fixup_restart()), and crc32c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch.h"
#include "arch-crc.h"

#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

#define NR_READ			0
#define NR_NANOSLEEP		35
#define NR_CLOCK_NANOSLEEP	230
#define NR_POLL			7

#define RIP	0x401000ULL

/* Registers of a task stopped in syscall nr that returned ax. */
static arch_regs_t in_syscall(long nr, long ax)
{
	arch_regs_t r;

	memset(&r, 0, sizeof(r));
	r.orig_rax = nr;
	r.rax = ax;
	r.rip = RIP;
	r.rdi = 0x1111;
	r.rsi = 0x2222;
	r.rdx = 0x3333;
	r.r10 = 0x4444;
	r.r8 = 0x5555;
	r.r9 = 0x6666;
	r.rsp = 0x7ffd0000;
	return r;
}

/* Every register but those the fixup may touch is as it was. */
static void assert_rest_equal(const arch_regs_t *a, const arch_regs_t *b)
{
	arch_regs_t x = *a, y = *b;

	x.rax = y.rax = 0;
	x.orig_rax = y.orig_rax = 0;
	x.rip = y.rip = 0;
	x.rdi = y.rdi = 0;
	x.rdx = y.rdx = 0;
	assert_memory_equal(&x, &y, sizeof(x));
}

static void test_not_in_syscall(void **state)
{
	static const long ax[] = { 0, -ERESTARTSYS, -ERESTARTNOINTR,
				   -ERESTART_RESTARTBLOCK, -EINTR, 5 };

	for (size_t i = 0; i < sizeof(ax) / sizeof(ax[0]); i++) {
		arch_regs_t r = in_syscall(-1, ax[i]), before = r;

		assert_null(arch_fixup_restart(&r));
		assert_memory_equal(&r, &before, sizeof(r));
		r.orig_rax = -100;
		before = r;
		assert_null(arch_fixup_restart(&r));
		assert_memory_equal(&r, &before, sizeof(r));
	}
}

static void test_restart(void **state)
{
	static const long ax[] = { -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND };

	for (size_t i = 0; i < sizeof(ax) / sizeof(ax[0]); i++) {
		arch_regs_t r = in_syscall(NR_READ, ax[i]), before = r;

		assert_non_null(arch_fixup_restart(&r));
		assert_int_equal(r.rax, NR_READ);
		assert_int_equal(r.rip, RIP - 2);
		assert_int_equal((long)r.orig_rax, -1);
		/* The arguments are left for the call to run again. */
		assert_int_equal(r.rdi, before.rdi);
		assert_int_equal(r.rdx, before.rdx);
		assert_rest_equal(&r, &before);

		r = in_syscall(NR_POLL, ax[i]);
		assert_non_null(arch_fixup_restart(&r));
		assert_int_equal(r.rax, NR_POLL);
		assert_int_equal(r.rip, RIP - 2);
	}
}

/* A finished call, or another error: the result stays as it is. */
static void test_no_restart(void **state)
{
	static const long ax[] = { 0, 17, -EINTR, -EAGAIN, -515, -517, -511 };

	for (size_t i = 0; i < sizeof(ax) / sizeof(ax[0]); i++) {
		arch_regs_t r = in_syscall(NR_READ, ax[i]), before = r;

		assert_null(arch_fixup_restart(&r));
		assert_int_equal((long)r.rax, ax[i]);
		assert_int_equal(r.rip, RIP);
		assert_int_equal(r.rdi, before.rdi);
		assert_int_equal(r.rdx, before.rdx);
		assert_rest_equal(&r, &before);
	}
}

static void test_restartblock_nanosleep(void **state)
{
	arch_regs_t r = in_syscall(NR_NANOSLEEP, -ERESTART_RESTARTBLOCK), before = r;

	/* nanosleep(req, rem): sleep what was left in *rem. */
	assert_non_null(arch_fixup_restart(&r));
	assert_int_equal(r.rax, NR_NANOSLEEP);
	assert_int_equal(r.rip, RIP - 2);
	assert_int_equal((long)r.orig_rax, -1);
	assert_int_equal(r.rdi, before.rsi);
	assert_int_equal(r.rsi, before.rsi);
	assert_rest_equal(&r, &before);

	/* No rem: nothing to go on with. */
	r = in_syscall(NR_NANOSLEEP, -ERESTART_RESTARTBLOCK);
	r.rsi = 0;
	before = r;
	assert_non_null(arch_fixup_restart(&r));
	assert_int_equal((long)r.rax, -EINTR);
	assert_int_equal(r.rip, RIP);
	assert_int_equal(r.rdi, before.rdi);
	assert_rest_equal(&r, &before);
}

static void test_restartblock_clock_nanosleep(void **state)
{
	arch_regs_t r, before;

	/* clock_nanosleep(clock, flags, req, rem), relative: sleep *rem. */
	r = in_syscall(NR_CLOCK_NANOSLEEP, -ERESTART_RESTARTBLOCK);
	r.rsi = 0;
	before = r;
	assert_non_null(arch_fixup_restart(&r));
	assert_int_equal(r.rax, NR_CLOCK_NANOSLEEP);
	assert_int_equal(r.rip, RIP - 2);
	assert_int_equal((long)r.orig_rax, -1);
	assert_int_equal(r.rdx, before.r10);
	assert_int_equal(r.r10, before.r10);
	assert_int_equal(r.rdi, before.rdi);
	assert_int_equal(r.rsi, 0);
	assert_rest_equal(&r, &before);

	/* TIMER_ABSTIME: the same deadline again, unchanged. */
	r = in_syscall(NR_CLOCK_NANOSLEEP, -ERESTART_RESTARTBLOCK);
	r.rsi = 1;
	before = r;
	assert_non_null(arch_fixup_restart(&r));
	assert_int_equal(r.rax, NR_CLOCK_NANOSLEEP);
	assert_int_equal(r.rip, RIP - 2);
	assert_int_equal(r.rdx, before.rdx);
	assert_int_equal(r.rdi, before.rdi);
	assert_int_equal(r.rsi, 1);
	assert_rest_equal(&r, &before);

	/* Absolute even without rem. */
	r = in_syscall(NR_CLOCK_NANOSLEEP, -ERESTART_RESTARTBLOCK);
	r.rsi = 1;
	r.r10 = 0;
	assert_non_null(arch_fixup_restart(&r));
	assert_int_equal(r.rax, NR_CLOCK_NANOSLEEP);
	assert_int_equal(r.rdx, 0x3333);

	/* Relative without rem: EINTR. */
	r = in_syscall(NR_CLOCK_NANOSLEEP, -ERESTART_RESTARTBLOCK);
	r.rsi = 0;
	r.r10 = 0;
	before = r;
	assert_non_null(arch_fixup_restart(&r));
	assert_int_equal((long)r.rax, -EINTR);
	assert_int_equal(r.rip, RIP);
	assert_int_equal(r.rdx, before.rdx);
	assert_rest_equal(&r, &before);
}

static void test_restartblock_other(void **state)
{
	static const long nrs[] = { NR_READ, NR_POLL, 34 /* pause */, 202 /* futex */,
				    231 };

	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		arch_regs_t r = in_syscall(nrs[i], -ERESTART_RESTARTBLOCK), before = r;

		assert_non_null(arch_fixup_restart(&r));
		assert_int_equal((long)r.rax, -EINTR);
		assert_int_equal(r.rip, RIP);
		assert_int_equal(r.rdi, before.rdi);
		assert_int_equal(r.rdx, before.rdx);
		assert_rest_equal(&r, &before);
	}
}

/* ---- crc32c ---- */

static uint32_t sw_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}


static void test_crc32c_check_value(void **state)
{
	if (!arch_cpu_has_crc32c())
		skip();
	assert_int_equal(arch_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(sw_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(arch_crc32c(0, "", 0), 0);
	assert_int_equal(arch_crc32c(0x12345678, "", 0), 0x12345678);
	/* 32 bytes of zeros and of 0xff (RFC 3720 B.4). */
	{
		unsigned char z[32];

		memset(z, 0, sizeof(z));
		assert_int_equal(arch_crc32c(0, z, 32), 0x8A9136AAu);
		memset(z, 0xff, sizeof(z));
		assert_int_equal(arch_crc32c(0, z, 32), 0x62A8AB43u);
	}
}

static void test_crc32c_lengths_and_chaining(void **state)
{
	unsigned char buf[1024 + 8];

	if (!arch_cpu_has_crc32c())
		skip();
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i * 131 + 7;
	/* Every length around the 8-byte words, every alignment. */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 40; len++)
			assert_int_equal(arch_crc32c(0, buf + off, len),
					 sw_crc32c(0, buf + off, len));
	assert_int_equal(arch_crc32c(0, buf, 1024), sw_crc32c(0, buf, 1024));
	/* In pieces, fed the crc so far. */
	for (size_t cut = 0; cut <= 1024; cut += 61) {
		uint32_t c = arch_crc32c(0, buf, cut);

		assert_int_equal(arch_crc32c(c, buf + cut, 1024 - cut),
				 sw_crc32c(0, buf, 1024));
	}
}

/* arch_crc32c_pages() is the crc32c of the pages' crc32c values. */
static void test_crc_pages(void **state)
{
	static unsigned char buf[7 * 4096];
	uint32_t per[7];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (int n = 1; n <= 7; n++) {
		for (int k = 0; k < n; k++)
			per[k] = arch_crc32c(0, buf + k * 4096, 4096);
		assert_int_equal(arch_crc32c_pages(buf, n * 4096UL),
				 arch_crc32c(0, per, n * sizeof(uint32_t)));
	}
	buf[3 * 4096 + 5] ^= 1;
	for (int k = 0; k < 7; k++)
		per[k] = arch_crc32c(0, buf + k * 4096, 4096);
	assert_int_equal(arch_crc32c_pages(buf, sizeof(buf)),
			 arch_crc32c(0, per, sizeof(per)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_pages),
		cmocka_unit_test(test_not_in_syscall),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_no_restart),
		cmocka_unit_test(test_restartblock_nanosleep),
		cmocka_unit_test(test_restartblock_clock_nanosleep),
		cmocka_unit_test(test_restartblock_other),
		cmocka_unit_test(test_crc32c_check_value),
		cmocka_unit_test(test_crc32c_lengths_and_chaining),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/sign.c: the HMAC-SHA256 against RFC 4231's vectors,
 * the set's MAC (domain-separated, any changed byte or key changes it),
 * and the rules for key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sign.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* RFC 4231, test cases 1 and 2. */
static void test_rfc4231(void **state)
{
	unsigned char key1[20], mac[SIGN_MAC_SIZE];
	char h[2 * SIGN_MAC_SIZE + 1];

	(void)state;
	memset(key1, 0x0b, sizeof(key1));
	assert_int_equal(sign_hmac(key1, sizeof(key1), "Hi There", 8, mac), 0);
	hex(mac, sizeof(mac), h);
	assert_string_equal(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(sign_hmac((const unsigned char *)"Jefe", 4,
				   "what do ya want for nothing?", 28, mac), 0);
	hex(mac, sizeof(mac), h);
	assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_set_mac(void **state)
{
	struct sign_key k = { .len = 32 }, k2 = { .len = 32 };
	unsigned char inv[100], a[SIGN_MAC_SIZE], b[SIGN_MAC_SIZE];

	(void)state;
	memset(k.bytes, 7, 32);
	memset(k2.bytes, 7, 32);
	k2.bytes[31] = 8;
	for (int i = 0; i < 100; i++)
		inv[i] = i;
	assert_int_equal(sign_mac(&k, inv, sizeof(inv), a), 0);
	/* Not a bare HMAC of the inventory: a MAC of crest's own kind. */
	assert_int_equal(sign_hmac(k.bytes, k.len, inv, sizeof(inv), b), 0);
	assert_memory_not_equal(a, b, SIGN_MAC_SIZE);
	assert_int_equal(sign_mac(&k, inv, sizeof(inv), b), 0);
	assert_memory_equal(a, b, SIGN_MAC_SIZE);
	inv[50] ^= 1;
	assert_int_equal(sign_mac(&k, inv, sizeof(inv), b), 0);
	assert_memory_not_equal(a, b, SIGN_MAC_SIZE);
	inv[50] ^= 1;
	assert_int_equal(sign_mac(&k2, inv, sizeof(inv), b), 0);
	assert_memory_not_equal(a, b, SIGN_MAC_SIZE);
	assert_int_equal(sign_mac(&k, inv, sizeof(inv) - 1, b), 0);
	assert_memory_not_equal(a, b, SIGN_MAC_SIZE);
}

static char *key_file(const char *bytes, size_t n, mode_t mode)
{
	char *path = strdup("/tmp/crest-test-key-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void test_key_load(void **state)
{
	struct sign_key k;
	char big[SIGN_KEY_MAX + 1];
	char *p;

	(void)state;
	p = key_file("0123456789abcdef0123456789abcdef", 32, 0600);
	assert_int_equal(sign_key_load(p, &k), 0);
	assert_int_equal(k.len, 32);
	assert_memory_equal(k.bytes, "0123456789abcdef0123456789abcdef", 32);
	sign_key_wipe(&k);
	assert_int_equal(k.len, 0);
	/* Others or the group may read it: refused. */
	chmod(p, 0644);
	assert_int_equal(sign_key_load(p, &k), -1);
	chmod(p, 0640);
	assert_int_equal(sign_key_load(p, &k), -1);
	chmod(p, 0400);
	assert_int_equal(sign_key_load(p, &k), 0);
	unlink(p);
	free(p);
	/* Empty: refused; short: taken (with a warning). */
	p = key_file("", 0, 0600);
	assert_int_equal(sign_key_load(p, &k), -1);
	unlink(p);
	free(p);
	p = key_file("abc", 3, 0600);
	assert_int_equal(sign_key_load(p, &k), 0);
	assert_int_equal(k.len, 3);
	unlink(p);
	free(p);
	memset(big, 'x', sizeof(big));
	p = key_file(big, sizeof(big), 0600);
	assert_int_equal(sign_key_load(p, &k), -1);
	unlink(p);
	free(p);
	assert_int_equal(sign_key_load("/nonexistent/key", &k), -1);
	assert_int_equal(sign_key_load("/tmp", &k), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_set_mac),
		cmocka_unit_test(test_key_load),
	};

	return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}

/*
 * start_peer_crypto — bench/start_peer with libcrypto linked: what mapping and
 * relocating libcrypto costs a process that starts and returns without using it
 * (bench/bench_mctl_start.py). The call it never makes at run time (no argument is
 * passed) is what makes the linker keep libcrypto.
 */
#include <openssl/crypto.h>

int
main(int argc, char **argv)
{
	(void)argv;
	return argc > 1 ? (int)(OpenSSL_version_num() & 1) : 0;
}

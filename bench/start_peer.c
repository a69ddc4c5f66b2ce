/*
 * start_peer — the least a command can cost: a C program that returns at once, linked
 * with libc only. The peer of mctl's start in bench/bench_mctl_start.py.
 */
int
main(void)
{
	return 0;
}

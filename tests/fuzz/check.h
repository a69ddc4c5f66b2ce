/*
 * check — the fuzz targets' assertion: a failed contract check names itself on
 * stderr (libFuzzer then saves the input) and aborts. Unlike assert(), it is never
 * compiled out.
 */
#ifndef MCOPS_FUZZ_CHECK_H
#define MCOPS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

#endif

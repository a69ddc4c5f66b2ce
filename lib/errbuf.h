/*
 * errbuf — filling the caller's error buffer, the one error convention of lib/ and of
 * every module that returns its failure as text (STYLE.md, practice 4).
 *
 * A function that can fail takes `char *err, size_t errlen` and, on failure, writes one
 * line saying what failed into it with errbuf_set(). The caller decides whether and how
 * to log it.
 */
#ifndef MCOPS_ERRBUF_H
#define MCOPS_ERRBUF_H

#include <stddef.h>

/*
 * Formats fmt into err as snprintf() does: at most errlen bytes including the NUL, a
 * longer message is cut (never overflows). err == NULL or errlen == 0: does nothing,
 * so a caller that does not want the text may pass NULL, 0.
 */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

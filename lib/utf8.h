/*
 * utf8 — decoding one UTF-8 character, for the places that check or clean text
 * (the incident log's validation, the pager's XML-safe bodies, the status page's
 * public text).
 */
#ifndef MCOPS_UTF8_H
#define MCOPS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The length (1 to 4) of the valid UTF-8 sequence at s, or 0 if it is not one: a
 * stray continuation byte, a cut character (a NUL inside it counts as a cut), an
 * overlong form, a surrogate, a value past U+10FFFF. s[0] must be readable; the
 * sequence is read no further than its first bad byte. *cp (if not NULL) gets the
 * code point of a valid sequence.
 */
size_t utf8_decode(const unsigned char *s, uint32_t *cp);

#endif

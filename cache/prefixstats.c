/*
 * prefixstats — see prefixstats.h.
 */
#include <string.h>

#include "prefixstats.h"

static void
count(struct prefixstats_entry *e, enum prefixstats_op op, bool hit)
{
	switch (op) {
	case PREFIXSTATS_GET:
		e->get++;
		if (hit)
			e->hit++;
		break;
	case PREFIXSTATS_SET:
		e->set++;
		break;
	case PREFIXSTATS_DEL:
		e->del++;
		break;
	}
}

void
prefixstats_record(struct prefixstats *p, const char *key, size_t klen,
    enum prefixstats_op op, bool hit)
{
	const char *d = memchr(key, PREFIXSTATS_DELIMITER, klen);
	size_t len, i;

	if (d == NULL)
		return;
	len = (size_t)(d - key);
	if (len <= PREFIXSTATS_PREFIX_MAX) {
		/* Linear: at most PREFIXSTATS_MAX short prefixes, and only while an
		 * operator has detail on. */
		for (i = 0; i < p->n; i++) {
			if (p->e[i].len == len && memcmp(p->e[i].prefix, key, len) == 0) {
				count(&p->e[i], op, hit);
				return;
			}
		}
		if (p->n < PREFIXSTATS_MAX) {
			struct prefixstats_entry *e = &p->e[p->n++];

			memset(e, 0, sizeof(*e));
			memcpy(e->prefix, key, len);
			e->len = len;
			count(e, op, hit);
			return;
		}
	}
	p->overflow = true;
	count(&p->other, op, hit);
}

void
prefixstats_clear(struct prefixstats *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->other.prefix, PREFIXSTATS_OTHER, sizeof(PREFIXSTATS_OTHER));
	p->other.len = sizeof(PREFIXSTATS_OTHER) - 1;
}

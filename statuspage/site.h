/*
 * site — the rendered status site in a directory:
 *   index.html, incidents/N.html, history.atom,
 *   api/v2/{summary,status,components,incidents}.json, api/v2/incidents/unresolved.json
 * Every file is written atomically (a temporary file in the same directory, then
 * rename), so a reader or a web server never sees half a file, and a file whose content
 * did not change is not rewritten (its mtime and ETag stay, and mirrors skip it).
 */
#ifndef MCSTATUS_SITE_H
#define MCSTATUS_SITE_H

#include <stddef.h>

#include "model.h"

#define SITE_FILE_MAX (8u << 20)

struct site_result {
	size_t written;    /* files whose content changed */
	size_t unchanged;  /* files already up to date */
};

/*
 * Writes path (relative to dir, '/'-separated, no "..") with data, creating parent
 * directories (mode 0755), atomically; skips it if its content is already data.
 * *changed (may be NULL) says whether it was written. 0, or -1 with err set.
 */
int site_write_file(const char *dir, const char *path, const char *data, size_t len,
    int *changed, char *err, size_t errlen);

/* Renders every file of the site from m into dir (created if missing). 0, or -1 with
 * err set (the files written before the failure stay, each whole). */
int site_render(const struct model *m, const char *dir, struct site_result *res, char *err,
    size_t errlen);

/* Removes the temporary files a killed writer left in dir and its subdirectories
 * ("NAME.tmp.PID"). Call it before the first render. Returns how many were removed. */
size_t site_clean_temporary(const char *dir);

#endif

/*
 * render_html — index.html and one page per incident. Server-rendered, no JavaScript,
 * no third-party assets, inline CSS with a dark scheme, every time in UTC and labelled,
 * and never colour alone: each state also has words and a symbol (the banner), a
 * label (components) or an accessible name and a pattern (the day bars).
 *
 * Size: the index must stay within one first round trip (~14 KB gzipped) with 10
 * components and 90 days, so the bars are bare <li> elements whose only text is their
 * accessible name, and the CSS is short.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "render.h"
#include "utctime.h"

#define PAST_INCIDENTS_MAX 20 /* past incidents listed on the index; the feed has all */

static const char css[] =
    ":root{--bg:#fff;--fg:#1d2125;--mu:#5e6c84;--bd:#dfe1e6;--ok:#1f845a;--mi:#b38600;"
    "--pa:#c25100;--ma:#c9372c;--nd:#dfe1e6}"
    "@media(prefers-color-scheme:dark){:root{--bg:#161a1d;--fg:#dee4ea;--mu:#9fadbc;"
    "--bd:#38414a;--ok:#4bce97;--mi:#e2b203;--pa:#fea362;--ma:#f87168;--nd:#38414a}"
    ".ban{color:#161a1d!important}}"
    "body{margin:0 auto;max-width:52rem;padding:1rem;font:16px/1.5 system-ui,sans-serif;"
    "background:var(--bg);color:var(--fg)}"
    "a{color:inherit}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}"
    "h3{font-size:1rem;margin:0}small,.mu{color:var(--mu)}"
    ".ban{padding:1rem;border-radius:6px;color:#fff;font-weight:600;font-size:1.1rem}"
    ".i0{background:var(--ok)}.i1{background:var(--mi);color:#000}.i2{background:var(--pa)}"
    ".i3{background:var(--ma)}"
    ".inc,.cmp{border:1px solid var(--bd);border-radius:6px;padding:.75rem 1rem;"
    "margin:.75rem 0}.inc ol{list-style:none;padding:0;margin:.5rem 0 0}"
    ".inc li{margin:.5rem 0}.st{float:right;font-weight:600}"
    ".s0{color:var(--ok)}.s1{color:var(--mi)}.s2{color:var(--pa)}.s3{color:var(--ma)}"
    ".bars{display:flex;gap:2px;list-style:none;padding:0;margin:.5rem 0 .25rem;height:2rem}"
    ".bars li{flex:1;background:var(--ok);border-radius:1px}"
    ".bars .n{background:none;border:1px solid var(--nd)}"
    ".bars .d1{background:var(--mi);height:85%;margin-top:auto}"
    ".bars .d2{background:repeating-linear-gradient(45deg,var(--pa) 0 3px,var(--bg) 3px 4px)}"
    ".bars .d3{background:repeating-linear-gradient(-45deg,var(--ma) 0 2px,var(--bg) 2px 3px)}"
    ".leg{display:flex;justify-content:space-between;font-size:.8rem;color:var(--mu)}"
    ".grp{margin:1.25rem 0}.grp>h3{font-size:1.1rem}.grp .cmp{margin-left:1rem}"
    "footer{margin-top:2rem;font-size:.9rem;color:var(--mu)}"
    ".i4{background:#0055cc}.s4{color:#0c66e4}"
    "@media(prefers-color-scheme:dark){.s4{color:#579dff}.i4{background:#579dff}}";

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	"Aug", "Sep", "Oct", "Nov", "Dec" };

static void
when(int64_t ms, bool with_time, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	if (with_time)
		snprintf(buf, len, "%d %s %d, %02d:%02d UTC", tm.tm_mday, months[tm.tm_mon],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
	else
		snprintf(buf, len, "%d %s %d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
}

/* <time datetime="ISO">24 Nov 2026, 23:40 UTC</time> */
static void
add_time(struct textbuf *b, int64_t ms)
{
	char iso[UTC_TEXT_MAX], human[64];

	utc_format_ms(ms, iso, sizeof(iso));
	when(ms, true, human, sizeof(human));
	textbuf_printf(b, "<time datetime=\"%s\">%s</time>", iso, human);
}

const char *
render_public_label(enum ilog_public_status s)
{
	switch (s) {
	case ILOG_PUBLIC_IDENTIFIED: return "Identified";
	case ILOG_PUBLIC_MONITORING: return "Monitoring";
	case ILOG_PUBLIC_RESOLVED: return "Resolved";
	default: return "Investigating";
	}
}

static const char *
impact_label(enum model_impact i)
{
	switch (i) {
	case MODEL_IMPACT_MINOR: return "Minor";
	case MODEL_IMPACT_MAJOR: return "Major";
	case MODEL_IMPACT_CRITICAL: return "Critical";
	default: return "None";
	}
}

static void
head(const struct model *m, struct textbuf *b, const char *title, const char *root)
{
	textbuf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			"<meta name=\"color-scheme\" content=\"light dark\"><title>");
	textbuf_escape(b, title);
	textbuf_printf(b, "</title><link rel=\"alternate\" type=\"application/atom+xml\" "
			  "title=\"Incident history\" href=\"%shistory.atom\">"
			  "<link rel=\"alternate\" type=\"application/json\" "
			  "href=\"%sapi/v2/summary.json\"><style>%s</style></head>\n<body>"
			  "<header><h1><a href=\"%sindex.html\">", root, root, css, root);
	textbuf_escape(b, m->cfg->name);
	textbuf_puts(b, "</a></h1></header>\n<main>\n");
}

static void
foot(struct textbuf *b, const char *root, int64_t updated)
{
	textbuf_puts(b, "</main>\n<footer><p>Last updated ");
	add_time(b, updated);
	textbuf_printf(b, ". All times are UTC.</p><p><a href=\"%shistory.atom\">Incident "
			  "history (Atom feed)</a> · <a href=\"%sapi/v2/summary.json\">Status "
			  "JSON</a></p></footer>\n</body></html>\n", root, root);
}

/* An incident's updates, newest first. */
static void
updates(struct textbuf *b, const struct model_incident *mi)
{
	size_t u;

	textbuf_puts(b, "<ol>");
	for (u = mi->nupdates; u-- > 0;) {
		const struct model_update *up = &mi->updates[u];

		textbuf_printf(b, "<li><strong>%s</strong> — ", render_public_label(up->status));
		textbuf_escape(b, up->body);
		textbuf_puts(b, "<br><small>");
		add_time(b, up->at);
		textbuf_puts(b, "</small></li>");
	}
	textbuf_puts(b, "</ol>");
}

/* "Affected: " and the components of mask (an incident's, a maintenance's). */
static void
affected(const struct model *m, struct textbuf *b, uint64_t mask)
{
	size_t i, n = 0;

	for (i = 0; i < m->cfg->ncomps; i++) {
		if (!(mask & ((uint64_t)1 << i)))
			continue;
		textbuf_puts(b, n++ ? ", " : "<p class=\"mu\">Affected: ");
		textbuf_escape(b, m->cfg->comps[i].name);
	}
	if (n)
		textbuf_puts(b, "</p>");
}

/* Who it touches, as a share only ("About 30% of caches in US-East C1 are affected."). */
static void
impact_line(struct textbuf *b, const struct model_incident *mi)
{
	if (mi->impact_percent < 0)
		return;
	textbuf_puts(b, "<p>A");
	textbuf_escape(b, mi->impact_text + 1);
	textbuf_puts(b, " are affected.</p>");
}

static void
incident_box(const struct model *m, struct textbuf *b, const struct model_incident *mi)
{
	char link[SP_URL_MAX + 64];

	snprintf(link, sizeof(link), "incidents/%lld.html", (long long)mi->id);
	textbuf_printf(b, "<article class=\"inc\"><h3><a href=\"%s\">", link);
	textbuf_escape(b, mi->name);
	textbuf_printf(b, "</a></h3><p class=\"s%d\"><strong>%s impact</strong> · %s</p>",
	    (int)model_impact_status(mi->impact), impact_label(mi->impact),
	    render_public_label(mi->status));
	affected(m, b, mi->components);
	impact_line(b, mi);
	updates(b, mi);
	textbuf_puts(b, "</article>\n");
}

static void
minutes(char *buf, size_t len, const char *what, int64_t ms)
{
	int64_t min = (ms + 59999) / 60000;

	if (min >= 120)
		snprintf(buf, len, ", %s %lld h %lld min", what, (long long)(min / 60),
		    (long long)(min % 60));
	else
		snprintf(buf, len, ", %s %lld min", what, (long long)min);
}

/* One day bar; its accessible name carries everything its colour and pattern show. */
static void
day_bar(struct textbuf *b, const struct model_day *d)
{
	char date[32], pct[16], detail[96] = "";

	when(d->start, false, date, sizeof(date));
	if (d->nodata) {
		textbuf_printf(b, "<li class=\"n\" role=\"img\" aria-label=\"%s: No data\"></li>",
		    date);
		return;
	}
	snprintf(pct, sizeof(pct), "%.2f%%", d->uptime * 100.0);
	if (d->uptime < 1.0 && strcmp(pct, "100.00%") == 0)
		snprintf(pct, sizeof(pct), "99.99%%"); /* never round an outage away */
	if (d->major_ms)
		minutes(detail, sizeof(detail), "major outage", d->major_ms);
	else if (d->partial_ms)
		minutes(detail, sizeof(detail), "partial outage", d->partial_ms);
	else if (d->degraded_ms)
		minutes(detail, sizeof(detail), "degraded performance", d->degraded_ms);
	else
		snprintf(detail, sizeof(detail), ", no incidents");
	if (d->worst == MODEL_OPERATIONAL)
		textbuf_printf(b, "<li role=\"img\" aria-label=\"%s: %s%s\"></li>", date, pct,
		    detail);
	else
		textbuf_printf(b, "<li class=\"d%d\" role=\"img\" aria-label=\"%s: %s%s\"></li>",
		    (int)d->worst, date, pct, detail);
}

static void
component_box(const struct model *m, struct textbuf *b, size_t i)
{
	const struct model_component *mc = &m->comps[i];
	size_t d;

	textbuf_puts(b, "<div class=\"cmp\"><h3>");
	textbuf_escape(b, m->cfg->comps[i].name);
	textbuf_printf(b, " <span class=\"st s%d\">%s</span></h3>", (int)mc->status,
	    model_status_label(mc->status));
	if (m->cfg->comps[i].description[0] != '\0') {
		textbuf_puts(b, "<p class=\"mu\">");
		textbuf_escape(b, m->cfg->comps[i].description);
		textbuf_puts(b, "</p>");
	}
	textbuf_puts(b, "<ol class=\"bars\" aria-label=\"Daily uptime, last 90 days\">");
	for (d = 0; d < MODEL_DAYS; d++)
		day_bar(b, &mc->days[d]);
	textbuf_puts(b, "</ol><p class=\"leg\"><span>90 days ago</span><span>");
	if (mc->has_data)
		textbuf_printf(b, "%.2f%% uptime", mc->uptime * 100.0);
	else
		textbuf_puts(b, "No data yet");
	textbuf_puts(b, "</span><span>Today</span></p></div>\n");
}

/* The components, each group's under its heading (the group's status is its worst
 * member's, in words and colour), then those in no group. Without groups: each in turn,
 * as ever. */
static void
components(const struct model *m, struct textbuf *b)
{
	const char *names[SP_GROUPS_MAX];
	size_t n = spconfig_groups(m->cfg, names, SP_GROUPS_MAX), g, i;

	for (g = 0; g < n; g++) {
		enum model_status worst = MODEL_OPERATIONAL;

		for (i = 0; i < m->cfg->ncomps; i++)
			if (strcmp(m->cfg->comps[i].group, names[g]) == 0 && m->comps[i].status > worst)
				worst = m->comps[i].status;
		textbuf_puts(b, "<section class=\"grp\"><h3>");
		textbuf_escape(b, names[g]);
		textbuf_printf(b, " <span class=\"st s%d\">%s</span></h3>\n", (int)worst,
		    model_status_label(worst));
		for (i = 0; i < m->cfg->ncomps; i++)
			if (strcmp(m->cfg->comps[i].group, names[g]) == 0)
				component_box(m, b, i);
		textbuf_puts(b, "</section>\n");
	}
	for (i = 0; i < m->cfg->ncomps; i++)
		if (m->cfg->comps[i].group[0] == '\0')
			component_box(m, b, i);
}

/* The subscribe form (posted to mcstatus, statuspage/subscribe.h), when subscriptions
 * are configured: one form, an address and the components (none ticked: all). */
static void
subscribe_form(const struct model *m, struct textbuf *b)
{
	const struct sp_config *c = m->cfg;
	size_t i;

	if (c->link_url[0] == '\0')
		return;
	textbuf_puts(b, "<section aria-labelledby=\"sub\"><h2 id=\"sub\">Get updates</h2>\n"
			"<form method=\"post\" action=\"");
	textbuf_escape(b, c->link_url);
	textbuf_puts(b, "subscribe\"><p><label>Email <input type=\"email\" name=\"email\" "
			"maxlength=\"254\" autocomplete=\"email\"></label></p>\n");
	if (c->subscribe_webhooks != SP_WEBHOOKS_NO)
		textbuf_puts(b, "<p><label>or a webhook URL <input type=\"url\" name=\"webhook\" "
				"maxlength=\"300\"></label></p>\n");
	if (c->ncomps > 1) {
		textbuf_puts(b, "<fieldset><legend>Components (none ticked: all)</legend>");
		for (i = 0; i < c->ncomps; i++) {
			textbuf_puts(b, "<label><input type=\"checkbox\" name=\"component\" value=\"");
			textbuf_escape(b, c->comps[i].id);
			textbuf_puts(b, "\"> ");
			textbuf_escape(b, c->comps[i].name);
			textbuf_puts(b, "</label> ");
		}
		textbuf_puts(b, "</fieldset>\n");
	}
	textbuf_puts(b, "<p><button>Subscribe</button> <small>We send a link to confirm; every "
			"message has a link to stop.</small></p></form></section>\n");
}

/* One maintenance: its public name, when, what it affects, its message. */
static void
maintenance_box(const struct model *m, struct textbuf *b, const struct model_maintenance *mm)
{
	textbuf_puts(b, "<article class=\"inc\"><h3>");
	textbuf_escape(b, mm->name);
	textbuf_printf(b, "</h3><p class=\"s4\"><strong>%s</strong> · ",
	    mm->status == ILOG_MAINT_IN_PROGRESS ? "In progress" : "Scheduled");
	add_time(b, mm->scheduled_for);
	textbuf_puts(b, " – ");
	add_time(b, mm->scheduled_until);
	textbuf_puts(b, "</p>");
	affected(m, b, mm->components);
	if (strcmp(mm->body, mm->name) != 0) {
		textbuf_puts(b, "<p>");
		textbuf_escape(b, mm->body);
		textbuf_puts(b, "</p>");
	}
	textbuf_puts(b, "</article>\n");
}

/* Maintenances in progress, then upcoming ones; nothing if there are none. */
static void
maintenances_section(const struct model *m, struct textbuf *out)
{
	static const enum ilog_maint_state order[] = { ILOG_MAINT_IN_PROGRESS,
		ILOG_MAINT_SCHEDULED };
	size_t i, k, n = 0;

	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (i = 0; i < m->nmaints && n < INDEX_MAINTENANCES_MAX; i++) {
			if (m->maints[i].status != order[k])
				continue;
			if (n++ == 0)
				textbuf_puts(out, "<section aria-labelledby=\"mnt\"><h2 id=\"mnt\">"
						  "Scheduled maintenance</h2>\n");
			maintenance_box(m, out, &m->maints[i]);
		}
	if (n)
		textbuf_puts(out, "</section>\n");
}

int
render_index_html(const struct model *m, struct textbuf *out)
{
	static const char *const symbols[] = { "✓", "!", "!", "✕", "⚒" };
	char title[SP_NAME_MAX + 16];
	size_t i, n;

	snprintf(title, sizeof(title), "%s status", m->cfg->name);
	head(m, out, title, "");
	textbuf_printf(out, "<p class=\"ban i%d\" role=\"status\"><span aria-hidden=\"true\">%s"
			    "</span> %s</p>\n", (int)m->indicator, symbols[m->indicator],
	    model_indicator_description(m->indicator));

	for (i = n = 0; i < m->nincidents; i++)
		if (m->incidents[i].active && n++ == 0)
			textbuf_puts(out, "<section aria-labelledby=\"act\"><h2 id=\"act\">Active "
					  "incidents</h2>\n");
	for (i = 0; i < m->nincidents; i++)
		if (m->incidents[i].active)
			incident_box(m, out, &m->incidents[i]);
	if (n)
		textbuf_puts(out, "</section>\n");
	maintenances_section(m, out);

	textbuf_puts(out, "<section aria-labelledby=\"cmp\"><h2 id=\"cmp\">Components</h2>\n");
	if (m->cfg->ncomps == 0)
		textbuf_puts(out, "<p>No components are configured.</p>\n");
	components(m, out);
	textbuf_puts(out, "</section>\n");

	textbuf_puts(out, "<section aria-labelledby=\"past\"><h2 id=\"past\">Past incidents</h2>"
			  "\n<ul>");
	for (i = n = 0; i < m->nincidents && n < PAST_INCIDENTS_MAX; i++) {
		const struct model_incident *mi = &m->incidents[i];

		if (mi->active)
			continue;
		n++;
		textbuf_printf(out, "<li><a href=\"incidents/%lld.html\">", (long long)mi->id);
		textbuf_escape(out, mi->name);
		textbuf_printf(out, "</a> <small>(%s impact) — resolved ", impact_label(mi->impact));
		add_time(out, mi->resolved_at != 0 ? mi->resolved_at : mi->updated_at);
		textbuf_puts(out, "</small></li>");
	}
	if (n == 0)
		textbuf_puts(out, "<li>No incidents in the last 90 days.</li>");
	textbuf_puts(out, "</ul></section>\n");
	subscribe_form(m, out);
	foot(out, "", m->now);
	return textbuf_failed(out) ? -1 : 0;
}

int
render_incident_html(const struct model *m, const struct model_incident *mi,
    struct textbuf *out)
{
	char title[MODEL_PUBLIC_NAME_MAX + SP_NAME_MAX + 8];

	snprintf(title, sizeof(title), "%s · %s", mi->name, m->cfg->name);
	head(m, out, title, "../");
	textbuf_puts(out, "<article><h2>");
	textbuf_escape(out, mi->name);
	textbuf_printf(out, "</h2><p class=\"s%d\"><strong>%s impact</strong> · %s</p>",
	    (int)model_impact_status(mi->impact), impact_label(mi->impact),
	    mi->active ? render_public_label(mi->status) : "Resolved");
	affected(m, out, mi->components);
	impact_line(out, mi);
	textbuf_puts(out, "<p class=\"mu\">Started ");
	add_time(out, mi->created_at);
	if (!mi->active && mi->resolved_at != 0) {
		textbuf_puts(out, ", resolved ");
		add_time(out, mi->resolved_at);
	}
	textbuf_puts(out, ".</p><h3>Updates</h3><div class=\"inc\">");
	updates(out, mi);
	textbuf_puts(out, "</div></article>\n");
	/* An incident page changes only with its incident, not at every re-render. */
	foot(out, "../", mi->resolved_at > mi->updated_at ? mi->resolved_at : mi->updated_at);
	return textbuf_failed(out) ? -1 : 0;
}

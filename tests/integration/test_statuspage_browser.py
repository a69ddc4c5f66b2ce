"""The status page as a browser renders it: headless Chromium loads index.html in each
state (all operational, degraded, outage, resolved, grouped by region, maintenance, the
subscribe form); the rendered DOM's text says what the state is in words (never colour
alone), and a screenshot of each state is kept in build/test-artifacts/statuspage/."""
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, tool
from sptest import (SECRETS, assert_no_secrets, indicator, mctl, open_incident, start, wait_for,
                    write_config)

CHROMIUM = shutil.which("chromium")
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts", "statuspage")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(scripts/setup installs it)")


def chromium(url, *args):
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--no-first-run",
                            "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={profile}", "--window-size=1280,1400", *args, url],
                           capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout.decode("utf-8")


class Text(html.parser.HTMLParser):
    """The visible text of a DOM, and the accessible names of the day bars."""

    def __init__(self):
        super().__init__()
        self.parts, self.labels, self.skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"):
            self.skip += 1
        a = dict(attrs)
        if a.get("role") == "img" and "aria-label" in a:
            self.labels.append(a["aria-label"])

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(" ".join(data.split()))

    @property
    def text(self):
        return " ".join(self.parts)


def render(site, state, tmp_path, dark=False):
    """A snapshot of the site loaded by Chromium: the DOM's text; a screenshot kept."""
    snap = tmp_path / f"snap-{state}"
    shutil.copytree(site, snap)
    dom = chromium(f"file://{snap}/index.html", "--dump-dom")
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, f"{state}.png")
    chromium(f"file://{snap}/index.html", f"--screenshot={shot}",
             *(["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if dark else []))
    assert os.path.getsize(shot) > 10000, "the screenshot has content"
    p = Text()
    p.feed(dom)
    return p


def test_the_rendered_page_says_each_state_in_words(procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")

    page = render(site, "operational", tmp_path)
    assert "All Systems Operational" in page.text
    assert page.text.count("Operational") >= 3  # the banner and both components
    assert "Active incidents" not in page.text
    assert "No incidents in the last 90 days." in page.text
    assert "UTC" in page.text and "Incident history (Atom feed)" in page.text
    assert len(page.labels) == 180 and page.labels[0].endswith("No data")

    tail = open_incident(db, "latency_tail", "c1", "minor")
    mctl(conf, "update", str(tail), "--status", "identified",
         "--message", "We identified a slow network path.")
    wait_for(lambda: "identified a slow" in (site / "index.html").read_text(),
             what="the degraded page")
    page = render(site, "degraded", tmp_path)
    assert "Minor Service Outage" in page.text
    assert "Active incidents" in page.text
    assert "Elevated latency in US-East C1" in page.text
    assert "Degraded performance" in page.text
    assert "Identified — We identified a slow network path." in page.text
    assert "Investigating — We are investigating elevated latency in US-East C1." in page.text
    assert page.text.index("Identified —") < page.text.index("Investigating —"), \
        "newest update first"

    down = open_incident(db, "node_down", "c2", "critical")
    # The render writes status.json and index.html one after the other: wait for the
    # page the browser is given.
    wait_for(lambda: indicator(site) == "critical" and
             "Degraded availability in EU-West C2" in (site / "index.html").read_text(),
             what="the outage page")
    page = render(site, "outage", tmp_path, dark=True)
    assert "Major System Outage" in page.text
    assert "Major outage" in page.text and "Degraded availability in EU-West C2" in page.text
    assert "Critical impact" in page.text

    mctl(conf, "resolve", str(tail))
    mctl(conf, "resolve", str(down))
    wait_for(lambda: indicator(site) == "none" and
             "Active incidents" not in (site / "index.html").read_text(),
             what="the resolved page")
    page = render(site, "resolved", tmp_path)
    assert "All Systems Operational" in page.text
    assert "Active incidents" not in page.text
    assert "Past incidents" in page.text
    assert "Elevated latency in US-East C1 (Minor impact) — resolved" in page.text
    today = [l for l in page.labels if not l.endswith("No data")]
    assert any("degraded performance" in l for l in today)
    assert any("major outage" in l for l in today)
    for s in SECRETS:
        assert s not in page.text
    assert_no_secrets(site)


GROUPS = ("[component c1]\ntitle = US-East C1\nclusters = c1\ngroup = US East (Virginia)\n"
          "[component c1b]\ntitle = US-East C1 sessions\nclusters = c1\n"
          "group = US East (Virginia)\n"
          "[component c2]\ntitle = EU-West C2\nclusters = c2\ngroup = Europe (Frankfurt)\n")


def test_the_grouped_page_says_each_region_and_its_worst_state_in_words(procs, tmp_path):
    conf, site, db = write_config(tmp_path, extra=GROUPS)
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    # An incident as mcmon writes it, its evidence saying how much of c2 it touches.
    evidence = json.dumps({"host": SECRETS[0], "tenant": SECRETS[1],
                           "impact": {"tenants": 3, "of": 10, "percent": 30}})
    subprocess.run([tool("tests/tools/incident_writer"), str(db), "node_down", "c2",
                    SECRETS[2], "major", f"down on {SECRETS[0]}", evidence],
                   capture_output=True, text=True, timeout=30, check=True)
    wait_for(lambda: "Degraded availability in EU-West C2" in
             (site / "index.html").read_text(), what="the grouped outage page")
    page = render(site, "grouped", tmp_path)
    text = page.text
    # Each region's heading, then its members; a region is as bad as its worst member.
    assert "US East (Virginia) Operational US-East C1 Operational" in text, text
    assert "US-East C1 sessions Operational" in text
    assert "Europe (Frankfurt) Partial outage EU-West C2 Partial outage" in text, text
    assert text.index("US East (Virginia)") < text.index("US-East C1 sessions") < \
        text.index("Europe (Frankfurt)")
    assert "About 30% of caches in EU-West C2 are affected." in text, text
    assert "It affects about 30% of caches in EU-West C2." in text
    assert len(page.labels) == 3 * 90
    for s in SECRETS:
        assert s not in page.text
    assert_no_secrets(site)
    comps = json.loads((site / "api/v2/components.json").read_text())["components"]
    groups = {c["name"]: c for c in comps if c["group"]}
    assert groups["US East (Virginia)"]["components"] == ["c1", "c1b"]
    assert groups["Europe (Frankfurt)"]["status"] == "partial_outage"


def test_the_subscribe_form_renders_as_plain_html(procs, tmp_path):
    from conftest import free_port
    port = free_port()
    (tmp_path / "sub.key").write_text("subscriber-link-secret-0123456789\n")
    conf, site, db = write_config(tmp_path, port, extra=(
        f"[subscribers]\nsecret_file = {tmp_path / 'sub.key'}\n"
        f"link_url = http://127.0.0.1:{port}/\nsmtp_url = smtp://127.0.0.1:1\n"
        "smtp_from = status@example.com\nwebhooks = https\n"))
    start(procs, conf, port)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    page = render(site, "subscribe", tmp_path)
    assert "Get updates" in page.text
    assert "Components (none ticked: all)" in page.text
    assert "US-East C1" in page.text and "EU-West C2" in page.text
    assert "or a webhook URL" in page.text and "Subscribe" in page.text
    html = (site / "index.html").read_text()
    assert f'<form method="post" action="http://127.0.0.1:{port}/subscribe">' in html
    assert 'type="email" name="email"' in html and html.count('type="checkbox"') == 2
    assert "<script" not in html and re.search(r"\son[a-z]+=", html) is None


def test_a_maintenance_in_progress_and_one_upcoming_are_said_in_words(procs, tmp_path):
    conf, site, db = write_config(tmp_path, extra=(
        "[maintenance nightly-internal]\nstart = 2026-01-01 03:00\nduration = 1h\nevery = 1d\n"
        "clusters = c2\ntitle = Nightly network upgrade\n"))
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    mctl(conf, "maintenance", "schedule", "--cluster", "c1", "--from", "now", "--until", "+2h",
         "--title", "Upgrade of US-East C1", "--message", "Writes may be slow for a minute.")
    wait_for(lambda: indicator(site) == "maintenance" and
             "Upgrade of US-East C1" in (site / "index.html").read_text(),
             what="the maintenance page")
    page = render(site, "maintenance", tmp_path)
    assert "Service Under Maintenance" in page.text
    assert "Scheduled maintenance" in page.text
    assert "Upgrade of US-East C1 In progress" in page.text
    assert "Writes may be slow for a minute." in page.text
    assert "Nightly network upgrade Scheduled" in page.text
    assert "Under maintenance" in page.text  # US-East C1's status, in words
    assert page.text.index("Upgrade of US-East C1") < page.text.index("Nightly network")
    assert "nightly-internal" not in page.text
    assert_no_secrets(site)

"""mcstatus: the public status page from the incident log (docs/statuspage.md)."""
import gzip
import os
import re
import resource
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from conftest import binary, free_port, wait_port
from sptest import (SECRETS, assert_no_secrets, check_all_json, indicator, mctl,
                    open_incident, read_json, start, wait_for, write_config)

ATOM = "{http://www.w3.org/2005/Atom}"


def unresolved(site):
    return read_json(site, "api/v2/incidents/unresolved.json")["incidents"]


def components(site):
    return {c["id"]: c["status"] for c in read_json(site, "api/v2/components.json")["components"]}


def atom_entries(site):
    root = ET.parse(os.path.join(site, "history.atom")).getroot()
    assert root.tag == ATOM + "feed"
    for tag in ("id", "title", "updated"):
        assert root.find(ATOM + tag) is not None, tag
    return root.findall(ATOM + "entry")


def test_each_state_has_statuspage_json_an_atom_entry_per_update_and_no_internal_detail(
        procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")

    # All operational.
    s = check_all_json(site)
    assert s["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert [c["name"] for c in s["components"]] == ["US-East C1", "EU-West C2"]
    assert set(components(site).values()) == {"operational"}
    assert atom_entries(site) == []

    # Degraded: a latency tail on c1, with an internal note.
    tail = open_incident(db, "latency_tail", "c1", "minor")
    mctl(conf, "note", str(tail), f"internal-note-secret: {SECRETS[0]} is slow")
    wait_for(lambda: indicator(site) == "minor", what="the minor indicator")
    s = check_all_json(site)
    assert components(site) == {"c1": "degraded_performance", "c2": "operational"}
    [inc] = s["incidents"]
    assert inc["name"] == "Elevated latency in US-East C1"
    assert inc["status"] == "investigating" and inc["impact"] == "minor"
    assert inc["incident_updates"][0]["body"] == \
        "We are investigating elevated latency in US-East C1."
    assert [c["id"] for c in inc["components"]] == ["c1"]
    assert_no_secrets(site)

    # A public update.
    msg = "We identified a faulty network path and are rerouting traffic."
    mctl(conf, "update", str(tail), "--status", "identified", "--message", msg)
    wait_for(lambda: unresolved(site)[0]["status"] == "identified", what="the public update")
    inc = unresolved(site)[0]
    assert [u["body"] for u in inc["incident_updates"]][0] == msg
    assert len(inc["incident_updates"]) == 2

    # Outage: a node down on c2, critical.
    down = open_incident(db, "node_down", "c2", "critical")
    wait_for(lambda: indicator(site) == "critical", what="the critical indicator")
    s = check_all_json(site)
    assert s["status"]["description"] == "Major System Outage"
    assert components(site) == {"c1": "degraded_performance", "c2": "major_outage"}
    assert [i["id"] for i in s["incidents"]] == [str(down), str(tail)]
    assert_no_secrets(site)

    # Resolved: both, one by a public "resolved" first.
    mctl(conf, "update", str(down), "--status", "resolved", "--message", "The node is back.")
    mctl(conf, "resolve", str(down))
    mctl(conf, "resolve", str(tail), "--message", f"fixed on {SECRETS[0]}")
    # A render writes its files one by one: wait for the ones read below.
    wait_for(lambda: indicator(site) == "none" and not unresolved(site) and
             {i["status"] for i in read_json(site, "api/v2/incidents.json")["incidents"]} ==
             {"resolved"}, what="all resolved")
    check_all_json(site)
    assert set(components(site).values()) == {"operational"}
    incidents = read_json(site, "api/v2/incidents.json")["incidents"]
    assert {i["status"] for i in incidents} == {"resolved"}
    by_id = {i["id"]: i for i in incidents}
    assert [u["body"] for u in by_id[str(tail)]["incident_updates"]][0] == \
        "This incident has been resolved."
    assert [u["body"] for u in by_id[str(down)]["incident_updates"]][0] == "The node is back."
    assert len(by_id[str(down)]["incident_updates"]) == 2  # no automatic one on top
    assert_no_secrets(site)

    # The feed: one entry per public update, each unique, in the XML parser's eyes.
    # (Written in the same render as the JSON, but read a moment later.)
    entries = wait_for(lambda: (lambda e: e if len(e) == 5 else None)(atom_entries(site)),
                       what="the feed of the last render")
    updates = [u for i in incidents for u in i["incident_updates"]]
    assert len(entries) == len(updates) == 5
    ids = [e.find(ATOM + "id").text for e in entries]
    assert len(set(ids)) == len(ids)
    assert {e.find(ATOM + "content").text for e in entries} == {u["body"] for u in updates}
    for i in incidents:
        assert os.path.exists(site / "incidents" / f"{i['id']}.html")
    html = (site / "index.html").read_text()
    assert "Past incidents" in html and "Elevated latency in US-East C1" in html


def test_index_has_ninety_day_bars_with_no_data_before_the_log_and_fits_in_14kb(
        procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    start(procs, conf)
    # The first render sees no observed time yet; the periodic one (5 s) sees some.
    wait_for(lambda: "no incidents" in (site / "index.html").read_text(), timeout=15,
             what="a re-render with today observed")
    html = (site / "index.html").read_text()
    bars = re.findall(r'<ol class="bars"[^>]*>(.*?)</ol>', html)
    assert len(bars) == 2
    for b in bars:
        labels = re.findall(r'aria-label="([^"]*)"', b)
        assert len(labels) == 90
        assert all(l.endswith("No data") for l in labels[:89]), "no green before the log"
        assert re.match(r"\d+ \w{3} \d{4}: 100\.00%, no incidents$", labels[89])
    assert "<script" not in html and "http://" not in html.replace(
        "http://www.w3.org", "")  # no third-party assets
    assert 'rel="alternate" type="application/atom+xml"' in html
    assert "prefers-color-scheme:dark" in html
    assert "UTC" in html
    assert len(gzip.compress(html.encode())) <= 14 * 1024


def test_served_over_http_with_etags_and_nothing_outside_its_directory(procs, tmp_path):
    port = free_port()
    conf, site, db = write_config(tmp_path, port=port)
    (tmp_path / "outside.txt").write_text("private")
    start(procs, conf, port=port)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    with urllib.request.urlopen(base + "/", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/html")
        assert "script-src" not in r.headers["Content-Security-Policy"]
        etag = r.headers["ETag"]
        assert "All Systems Operational" in r.read().decode()
    with urllib.request.urlopen(base + "/api/v2/summary.json", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json"
    req = urllib.request.Request(base + "/", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as e:
        assert e.code == 304
    for path, code in (("/../outside.txt", 400), ("/%2e%2e/outside.txt", 400),
                       ("/nope.html", 404), ("/api/", 404)):
        try:
            urllib.request.urlopen(base + path, timeout=10)
            raise AssertionError(f"{path} was served")
        except urllib.error.HTTPError as e:
            assert e.code == code, (path, e.code)
    req = urllib.request.Request(base + "/index.html", data=b"x", method="PUT")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("PUT was accepted")
    except urllib.error.HTTPError as e:
        assert e.code in (405, 413, 501)


def test_a_symlinked_directory_inside_the_site_serves_nothing(procs, tmp_path):
    """O_NOFOLLOW guards only a path's last component: a symlink to a directory outside
    the site, placed inside it, must not make that directory's files public."""
    port = free_port()
    conf, site, db = write_config(tmp_path, port=port)
    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "notes.txt").write_text("private")
    start(procs, conf, port=port)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    os.symlink(secret, site / "linked")
    os.symlink(site / "api", site / "api-alias")  # even one pointing inside the site
    for path in ("/linked/notes.txt", "/linked/", "/api-alias/v2/summary.json"):
        try:
            urllib.request.urlopen(base + path, timeout=10)
            raise AssertionError(f"{path} was served")
        except urllib.error.HTTPError as e:
            assert e.code == 404, (path, e.code)
    # Real directories still serve.
    with urllib.request.urlopen(base + "/api/v2/summary.json", timeout=10) as r:
        assert r.status == 200


def test_a_bad_configuration_is_refused_with_every_error_and_its_line(tmp_path):
    conf, site, db = write_config(
        tmp_path, extra="[statuspage]\nurl = ftp://nope\ncolour = blue\n[component x/y]\n")
    r = subprocess.run([binary("mcstatus"), "-n", "-f", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert f"{conf}:" in r.stderr
    assert "url" in r.stderr and "unknown key 'colour'" in r.stderr and "x/y" in r.stderr
    conf2, _, _ = write_config(tmp_path)
    r = subprocess.run([binary("mcstatus"), "-n", "-f", str(conf2)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_killed_mcstatus_catches_up_from_its_cursor_with_whole_files(procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    p = start(procs, conf)
    inc = open_incident(db, "connection_storm", "c1", "major")
    wait_for(lambda: indicator(site) == "major", what="the incident on the page")
    procs.stop(p, sig=signal.SIGKILL)
    mctl(conf, "update", str(inc), "--status", "monitoring", "--message", "Connections recover.")
    mctl(conf, "resolve", str(inc))
    # What a writer killed between write and rename leaves behind.
    (site / "api" / "v2" / "status.json.tmp.999999").write_text('{"half":')
    start(procs, conf, name="mcstatus-again")
    wait_for(lambda: indicator(site) == "none" and [i["status"] for i in read_json(
        site, "api/v2/incidents.json")["incidents"]] == ["resolved"],
        what="the catch-up after a restart")
    [i] = read_json(site, "api/v2/incidents.json")["incidents"]
    assert [u["status"] for u in i["incident_updates"]] == \
        ["resolved", "monitoring", "investigating"]
    assert i["monitoring_at"] is not None
    check_all_json(site)
    assert not (site / "api" / "v2" / "status.json.tmp.999999").exists(), \
        "the killed run's temporary file is removed"


def test_mctl_statuspage_render_writes_the_same_site_once(procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    inc = open_incident(db, "latency_tail", "c2", "major")
    mctl(conf, "update", str(inc), "--status", "identified", "--message", "A slow disk.")
    out = tmp_path / "preview"
    r = mctl(conf, "statuspage", "render", str(out))
    assert "files written" in r.stdout
    s = check_all_json(out)
    assert s["status"]["indicator"] == "major"
    assert s["incidents"][0]["incident_updates"][0]["body"] == "A slow disk."
    assert_no_secrets(out)
    assert mctl(conf, "statuspage", "render", check=False).returncode == 2
    assert mctl(conf, "statuspage", "bogus", check=False).returncode == 2


def test_sighup_renames_the_page_and_a_bad_configuration_keeps_the_running_one(
        procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    p = start(procs, conf)
    wait_for(lambda: read_json(site, "api/v2/status.json")["page"]["name"] == "Example Cache",
             what="the first render")
    text = conf.read_text()
    conf.write_text(text.replace("title = US-East C1", "title = Virginia cache")
                    .replace("name = Example Cache", "name = Renamed Cache"))
    os.kill(p.pid, signal.SIGHUP)
    # The site's files are replaced one by one: wait for the last one read here.
    wait_for(lambda: read_json(site, "api/v2/status.json")["page"]["name"] == "Renamed Cache"
             and read_json(site, "api/v2/components.json")["components"][0]["name"]
             == "Virginia cache", what="the reloaded names")
    assert components(site)["c1"] == "operational"
    # A broken file is refused; the page keeps its name and the daemon runs on.
    conf.write_text(conf.read_text() + "[statuspage]\nurl = not a url\n")
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: "reload refused" in procs.log(p), what="the refusal in the log")
    inc = open_incident(db, "latency_tail", "c1", "minor")
    # A render writes its files one by one: wait for both files read below.
    wait_for(lambda: indicator(site) == "minor" and unresolved(site),
             what="work after a refused reload")
    assert read_json(site, "api/v2/status.json")["page"]["name"] == "Renamed Cache"
    assert unresolved(site)[0]["name"] == "Elevated latency in Virginia cache"
    assert p.poll() is None and inc > 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_many_idle_connections_neither_spin_the_server_nor_stop_the_page(procs, tmp_path):
    port = free_port()
    conf, site, db = write_config(tmp_path, port=port)
    # 64 descriptors: the visitors below could take every one the process may open.
    p = procs.start([binary("mcstatus"), "-f", str(conf)], preexec_fn=lambda:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    wait_port(port, proc=p)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    held = []
    try:
        for _ in range(100):  # idle, as slow clients; the server times them out at 10 s
            held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        time.sleep(0.5)
        t0, cpu0 = time.monotonic(), cpu_seconds(p.pid)
        open_incident(db, "latency_tail", "c1", "minor")
        wait_for(lambda: indicator(site) == "minor", timeout=30,
                 what="the page updated while visitors hold connections")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))
        busy = (cpu_seconds(p.pid) - cpu0) / (time.monotonic() - t0)
        assert busy < 0.3, f"mcstatus used {busy:.0%} of a CPU while full"
        assert len(procs.log(p).splitlines()) < 20, "the log stays bounded"
    finally:
        for s in held:
            s.close()
    # Once they are gone, the page is served again.
    def served():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/status.json",
                                    timeout=2) as r:
            return r.status == 200 and b'"minor"' in r.read()
    wait_for(served, timeout=30, what="the page served again")
    assert p.poll() is None


def test_an_update_with_markup_noncharacters_and_bidi_controls_is_shown_as_text(
        procs, tmp_path):
    conf, site, db = write_config(tmp_path)
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    inc = open_incident(db, "latency_tail", "c1", "minor")
    msg = ("<script>alert(1)</script> \"q\" 'a' & <img src=x onerror=alert(2)> "
           "odd\uffff\ufffe \u202egnp.exe\u2066 C1\u0085 end")
    mctl(conf, "update", str(inc), "--status", "identified", "--message", msg)
    # A render writes its files one by one: wait for each file read below.
    wait_for(lambda: unresolved(site) and unresolved(site)[0]["status"] == "identified" and
             "alert(1)" in (site / "index.html").read_text(encoding="utf-8") and
             [e for e in atom_entries(site) if e.find(ATOM + "title").text.endswith(
                 ": Identified")], what="the update on the page")
    body = unresolved(site)[0]["incident_updates"][0]["body"]
    assert body == ("<script>alert(1)</script> \"q\" 'a' & <img src=x onerror=alert(2)> "
                    "odd\ufffd\ufffd  gnp.exe  C1  end")
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#39;a&#39; &amp;" in html
    # The feed stays well-formed XML (U+FFFF is not an XML character) with the text.
    [entry] = [e for e in atom_entries(site)
               if e.find(ATOM + "title").text.endswith(": Identified")]
    assert entry.find(ATOM + "content").text == body
    check_all_json(site)

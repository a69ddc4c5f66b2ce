"""Helpers for the status page tests: a configuration, mcstatus, incidents with planted
internal details, and the Statuspage v2 shapes checked field by field."""
import datetime
import json
import os
import subprocess
import time

from conftest import binary, free_port, tool, wait_port

# Internal details planted in incidents, notes and evidence: none may appear on
# anything public.
SECRETS = ["cache-host-secret-01", "tenant-acme-secret", "node-secret-n2", "987654321",
           "internal-note-secret"]

PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_FIELDS = {"id", "name", "status", "created_at", "updated_at", "position",
                    "description", "showcase", "group_id", "page_id", "group",
                    "only_show_if_degraded", "start_date"}
INCIDENT_FIELDS = {"id", "name", "status", "impact", "created_at", "updated_at",
                   "monitoring_at", "resolved_at", "started_at", "shortlink", "page_id",
                   "incident_updates", "components", "customer_impact"}
UPDATE_FIELDS = {"id", "status", "body", "incident_id", "created_at", "updated_at",
                 "display_at", "affected_components", "deliver_notifications"}
INDICATORS = {"none", "minor", "major", "critical"}
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
IMPACTS = {"none", "minor", "major", "critical"}
JSON_FILES = ["api/v2/summary.json", "api/v2/status.json", "api/v2/components.json",
              "api/v2/incidents.json", "api/v2/incidents/unresolved.json"]


def write_config(tmp_path, port=None, extra=""):
    site = tmp_path / "site"
    db = tmp_path / "mcops.db"
    listen = f"listen = 127.0.0.1:{port}\n" if port else ""
    conf = tmp_path / "mcops.conf"
    conf.write_text(
        f"[log]\npath = {db}\n"
        f"[statuspage]\ndir = {site}\nname = Example Cache\nurl = https://status.example.com/\n"
        f"{listen}poll = 50ms\nrerender = 5s\n"
        "[cluster c1]\ntitle = US-East C1\n"
        "[cluster c2]\ntitle = EU-West C2\n" + extra)
    return conf, site, db


def start(procs, conf, port=None, name="mcstatus"):
    p = procs.start([binary("mcstatus"), "-f", str(conf)], name=name)
    if port:
        wait_port(port, proc=p)
    return p


def mctl(conf, *args, check=True):
    r = subprocess.run([binary("mctl"), "-f", str(conf), *args], capture_output=True,
                       text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"mctl {args}: {r.returncode}: {r.stderr}")
    return r


def open_incident(db, kind, cluster, severity):
    """An incident as mcmon writes it, with internal details planted."""
    evidence = json.dumps({"host": SECRETS[0], "tenant": SECRETS[1], "p99_us": 987654321})
    r = subprocess.run([tool("tests/tools/incident_writer"), str(db), kind, cluster, SECRETS[2],
                        severity, f"{kind} on {SECRETS[0]} for {SECRETS[1]}", evidence],
                       capture_output=True, text=True, timeout=30, check=True)
    return int(r.stdout.strip())


def read_json(site, rel):
    with open(os.path.join(site, rel), encoding="utf-8") as f:
        return json.load(f)


def wait_for(predicate, timeout=10.0, what="a condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def indicator(site):
    return read_json(site, "api/v2/status.json")["status"]["indicator"]


def parse_time(s):
    assert s.endswith("Z") or s[-6] in "+-", s
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert t.utcoffset() == datetime.timedelta(0)
    return t


def check_page(page):
    assert set(page) == PAGE_FIELDS
    assert page["time_zone"] == "Etc/UTC"
    parse_time(page["updated_at"])


def check_component(c):
    # A group (Statuspage's component group) lists its members' ids besides.
    fields = COMPONENT_FIELDS | ({"components"} if c.get("group") is True else set())
    assert set(c) == fields, set(c) ^ fields
    assert c["status"] in COMPONENT_STATUSES
    assert isinstance(c["position"], int) and c["position"] >= 1
    assert isinstance(c["showcase"], bool) and isinstance(c["group"], bool)
    assert isinstance(c["only_show_if_degraded"], bool)
    assert c["group_id"] is None or (isinstance(c["group_id"], str) and not c["group"])
    assert not c["group"] or all(isinstance(m, str) for m in c["components"])
    assert c["description"] is None or isinstance(c["description"], str)
    parse_time(c["created_at"])
    parse_time(c["updated_at"])
    datetime.date.fromisoformat(c["start_date"])


def check_incident(i):
    assert set(i) == INCIDENT_FIELDS, set(i) ^ INCIDENT_FIELDS
    assert isinstance(i["id"], str) and i["id"]
    assert i["status"] in INCIDENT_STATUSES
    assert i["impact"] in IMPACTS
    for k in ("created_at", "updated_at", "started_at"):
        parse_time(i[k])
    for k in ("monitoring_at", "resolved_at"):
        assert i[k] is None or parse_time(i[k])
    assert (i["resolved_at"] is not None) == (i["status"] == "resolved")
    # A share only ("about 30% of caches in US-East C1"), or null.
    assert i["customer_impact"] is None or (i["customer_impact"].startswith("about ") and
                                            "% of caches in " in i["customer_impact"])
    assert i["shortlink"] == f"https://status.example.com/incidents/{i['id']}.html"
    for c in i["components"]:
        check_component(c)
    times = []
    for u in i["incident_updates"]:
        assert set(u) == UPDATE_FIELDS, set(u) ^ UPDATE_FIELDS
        assert u["status"] in INCIDENT_STATUSES
        assert u["incident_id"] == i["id"]
        assert isinstance(u["body"], str) and u["body"]
        times.append(parse_time(u["display_at"]))
        ac = u["affected_components"]
        assert ac is None or all(set(a) == {"code", "name", "old_status", "new_status"} and
                                 a["old_status"] in COMPONENT_STATUSES and
                                 a["new_status"] in COMPONENT_STATUSES for a in ac)
    assert times == sorted(times, reverse=True), "updates are newest first"
    assert i["incident_updates"][0]["status"] == i["status"]


def read_one_render(site, timeout=30.0):
    """Every JSON document, all from one render: each file is replaced atomically, but a
    reader can fall between two files of a render in progress, so read until they agree
    (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        docs = {rel: read_json(site, rel) for rel in JSON_FILES}
        s = docs["api/v2/summary.json"]
        if (len({json.dumps(d.get("page"), sort_keys=True) for d in docs.values()}) == 1 and
                docs["api/v2/incidents/unresolved.json"].get("incidents") == s.get("incidents")
                and docs["api/v2/status.json"].get("status") == s.get("status")) or \
                time.monotonic() > deadline:
            return docs
        time.sleep(0.05)


def check_all_json(site):
    """Every JSON document against the Statuspage v2 shapes; returns summary.json."""
    docs = read_one_render(site)
    for rel, d in docs.items():
        check_page(d["page"])
    s = docs["api/v2/summary.json"]
    assert set(s) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert s["scheduled_maintenances"] == []
    assert set(s["status"]) == {"indicator", "description"}
    assert s["status"]["indicator"] in INDICATORS
    assert docs["api/v2/status.json"]["status"] == s["status"]
    assert docs["api/v2/components.json"]["components"] == s["components"]
    for c in s["components"]:
        check_component(c)
    for i in docs["api/v2/incidents.json"]["incidents"]:
        check_incident(i)
    unresolved = docs["api/v2/incidents/unresolved.json"]["incidents"]
    assert unresolved == s["incidents"]
    for i in unresolved:
        check_incident(i)
        assert i["status"] != "resolved"
    worst = max([{"none": 0, "minor": 1, "major": 2, "critical": 3}[i["impact"]]
                 for i in unresolved] or [0])
    assert s["status"]["indicator"] == ["none", "minor", "major", "critical"][worst]
    assert len(docs["api/v2/incidents.json"]["incidents"]) <= 50
    return s


def public_files(site):
    for root, _dirs, files in os.walk(site):
        for f in files:
            yield os.path.join(root, f)


def assert_no_secrets(site):
    n = 0
    for path in public_files(site):
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
        for s in SECRETS:
            assert s not in data, f"{s} leaked into {path}"
        n += 1
    assert n >= 8, "the site has all its files"

"""What the installation tests share (test_dist.py, test_package.py): reading a systemd
unit file, and running make from a test without an outer make's flags."""
import os


def unit_service(path):
    """{key: [values]} of a unit file's [Service] section, comments skipped."""
    settings, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                settings.setdefault(k, []).append(v)
    return settings


def clean_make_env():
    """The environment without an outer make's flags (`make check SAN=1` would pass its
    SAN=1 and its jobserver down to a make started here)."""
    return {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

"""docs/compatibility.md lists every URL the server answers."""
import re
from pathlib import Path

from pyramid.interfaces import IRoutesMapper

from vidjil_pyramid import make_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def documented_urls(text: str) -> set[str]:
    """`controller/function` names, also in the `a/b, c, d` shorthand of the tables."""
    urls: set[str] = set()
    for cell in re.findall(r"^\| ([^|]+) \|", text, re.MULTILINE):
        controller = None
        for name in re.findall(r"`([^`]+)`", cell):
            name = name.lstrip("/")
            if "/" in name:
                controller, _, function = name.partition("/")
                urls.add(f"{controller}/{function}")
            elif controller:
                urls.add(f"{controller}/{name}")
    return urls


def test_every_route_is_in_the_compatibility_table(app_settings):
    config = make_config(dict(app_settings))
    config.commit()
    patterns = [r.pattern for r in config.registry.getUtility(IRoutesMapper).get_routes()]
    served = {p[len("/vidjil/"):] for p in patterns if p.startswith("/vidjil/") and p.count("/") == 3}
    served.discard("health/index")
    missing = served - documented_urls(DOC.read_text())
    assert not missing, f"add to docs/compatibility.md: {sorted(missing)}"

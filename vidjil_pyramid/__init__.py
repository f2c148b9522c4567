"""The Vidjil server as a Pyramid application."""
from __future__ import annotations

import importlib.util

from pyramid.config import Configurator

from .settings import build_settings

# Each domain package adds its own routes and views through `<domain>.views.includeme`.
DOMAINS = ("auth", "admin", "sample_sets", "files", "jobs", "results")


def _domain_view_modules() -> list[str]:
    return [f".{d}.views" for d in DOMAINS if importlib.util.find_spec(f"{__name__}.{d}.views") is not None]


def make_config(settings: dict) -> Configurator:
    config = Configurator(settings=settings)
    config.include(".db")
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_subscriber("vidjil_pyramid.menu.add_layout_globals", "pyramid.events.BeforeRender")
    config.include(".legacy")
    config.include(".security")
    config.include(".views")
    for module in _domain_view_modules():
        config.include(module)
    config.scan(".", ignore=[".tests", ".db.migrations"])
    return config


def main(global_config, **settings):
    """PasteDeploy entry point (`etc/*.ini`) and the factory the CLI and tests call."""
    if not settings.get("vidjil.settings_built"):
        settings = build_settings(settings)
        settings["vidjil.settings_built"] = True
    return make_config(settings).make_wsgi_app()

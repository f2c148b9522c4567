"""The Vidjil server as a Pyramid application."""
from __future__ import annotations

from pyramid.config import Configurator

from .settings import build_settings

# Each domain adds its own routes and views.
DOMAINS = (
    ".auth.views",
    ".admin.views",
)


def make_config(settings: dict) -> Configurator:
    config = Configurator(settings=settings)
    config.include(".db")
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_subscriber("vidjil_pyramid.menu.add_layout_globals", "pyramid.events.BeforeRender")
    config.include(".legacy")
    config.include(".security")
    config.include(".views")
    for domain in DOMAINS:
        config.include(domain)
    config.scan(".", ignore=[".tests", ".db.migrations"])
    return config


def main(global_config, **settings):
    """PasteDeploy entry point (`etc/*.ini`) and the factory the CLI and tests call."""
    if not settings.get("vidjil.settings_built"):
        settings = build_settings(settings)
        settings["vidjil.settings_built"] = True
    return make_config(settings).make_wsgi_app()

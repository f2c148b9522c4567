"""Packaging for the Vidjil server on Pyramid."""
from setuptools import find_packages, setup

REQUIRES = [
    "pyramid>=2.0",
    "pyramid_tm>=2.5",
    "pyramid_retry>=2.1",
    "pyramid_jinja2>=2.10",
    "waitress>=3.0",
    "SQLAlchemy>=2.0",
    "zope.sqlalchemy>=3.0",
    "transaction>=3.0",
    "PyMySQL>=1.1",
    "pika>=1.3",
    "supervisor>=4.2",
    "alembic>=1.12",
    "argon2-cffi>=23.1",
    "plaster_pastedeploy>=1.0",
    "tqdm>=4.66",
    "xxhash>=3.0",  # upload checksums (XXH3-128) at disk speed
]

TESTS_REQUIRE = [
    "pytest>=7", "WebTest>=3.0", "beautifulsoup4>=4.12",
    # what tools/api_vidjil.py (the original API client, driven by some tests) imports
    "requests>=2.31", "requests-toolbelt>=1.0", "tabulate>=0.9", "bs4",
]

setup(
    name="vidjil-pyramid",
    version="0.1.0",
    description="Vidjil server (immune repertoire analysis) on Pyramid",
    packages=find_packages(include=[
        "vidjil_pyramid", "vidjil_pyramid.*",
        "consumers", "consumers.*",
        "fuse_rpc", "fuse_rpc.*",
        "legacy_import", "legacy_import.*",
        "germline", "germline.*",
    ]),
    include_package_data=True,
    package_data={
        "vidjil_pyramid": [
            "templates/*.jinja2", "templates/*/*.jinja2",
            "static/*/*", "demo/*",
            "db/migrations/*.py", "db/migrations/*.mako", "db/migrations/versions/*.py",
        ],
    },
    python_requires=">=3.10",
    install_requires=REQUIRES,
    extras_require={"test": TESTS_REQUIRE},
    entry_points={
        "paste.app_factory": ["main = vidjil_pyramid:main"],
        "console_scripts": ["vidjil-server = vidjil_pyramid.cli:main"],
    },
)

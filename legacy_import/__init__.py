"""Moving a web2py Vidjil server (database and files) into this server.

* `vidjil-server legacy-import`: the whole database of any release since 2014,
  ids preserved, plus the upload and result files (`importer.py`);
* `vidjil-server export` / `import`: the original migrator's archives of some
  sample sets, with id remapping (`migrator.py`).

The source is only ever read; the report tells what was carried over.
"""

import pytest

from vidjil_pyramid.legacy import normalise_path


@pytest.mark.parametrize("path, expected", [
    ("/vidjil/default/home.html", ("/vidjil/default/home", "html", [])),
    ("/vidjil//sample_set/all", ("/vidjil/sample_set/all", "", [])),
    ("/vidjil/vidjil/default/home", ("/vidjil/default/home", "", [])),
    ("/vidjil/my_account", ("/vidjil/my_account/index", "", [])),
    ("/vidjil/", ("/vidjil/default/index", "", [])),
    ("/vidjil", ("/vidjil/default/index", "", [])),
    ("/vidjil/default/whoami.json", ("/vidjil/default/whoami", "json", [])),
    ("/vidjil/default/user/login", ("/vidjil/default/user", "", ["login"])),
    ("/vidjil/default/download/results_file.data_file.ab.cd.txt",
     ("/vidjil/default/download", "", ["results_file.data_file.ab.cd.txt"])),
    ("/vidjil/proxy//imgt/imgt", ("/vidjil/proxy/imgt", "", ["imgt"])),
    ("/vidjil/static/js/checkSSL.js", ("/vidjil/static/js/checkSSL.js", "", [])),
    ("/_health", ("/_health", "", [])),
])
def test_normalise_path(path, expected):
    assert normalise_path(path) == expected

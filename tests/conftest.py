import torch

torch.set_num_threads(1)

import pytest


@pytest.fixture(scope="session")
def autosave_dir(tmp_path_factory):
    """Autosaves of the test servers go to a temporary directory, not the user's."""
    import os

    path = tmp_path_factory.mktemp("autosave")
    os.environ["WORKBENCH_AUTOSAVE"] = str(path)
    os.environ["WORKBENCH_MODULES"] = str(tmp_path_factory.mktemp("my-modules"))  # "My modules" too
    return path


@pytest.fixture(scope="session")
def workbench_url(autosave_dir):
    """One real workbench server (``python app.py``) for all browser tests; each test's page
    is its own browser context, so its own session, circuit and simulator."""
    from workbench.serve import start_server, stop_server

    proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium driven by playwright (never a downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from workbench.serve import CHROMIUM_ARGS, chromium_path

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()

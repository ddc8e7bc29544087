"""The page of ``textrnn serve`` in a real headless browser: Debian's chromium through selenium and the system
chromedriver, against a real server on the loopback. Submits a sentence to a classifier, a tagger and a translator
(tiny runs trained here) and checks the answers appear as they are drawn (bars; entities highlighted in the text; a
translation with its attention heat map).

Run it alone with ``python -m pytest -m browser``; it needs ``apt-get install chromium chromium-driver`` (``.ci/run``
installs them) and is skipped, with that reason, where they are absent.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request

import pytest
import torch
from conftest import NEGATIVE, POSITIVE
from test_serve import PAIRS, TAGGED, free_port, wait_for

from textrnn.corpus import Example
from textrnn.pipeline import Pipeline

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver: "
                                                                   "apt-get install chromium chromium-driver")]
TIMEOUT = 30


def trained(task: str, examples, model: dict, folder, epochs: int, **options):
    pipe = Pipeline.for_task(task, train=examples, model=model, quiet=True, **options,
                             train_config={"epochs": epochs, "batch_size": 4, "device": "cpu", "threads": 1,
                                           "lr": 0.01})
    pipe.fit(examples, examples, run_dir=folder, quiet=True)
    return pipe.save(folder)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``textrnn serve`` with a classifier, a tagger and a translator, its URL."""
    root = tmp_path_factory.mktemp("browser")
    torch.manual_seed(0)
    reviews = [Example(text=t, label="positive") for t in POSITIVE] + \
              [Example(text=t, label="negative") for t in NEGATIVE]
    classifier = trained("classify", reviews, {"hidden_dim": 16, "embedding": {"dim": 16}}, root / "reviews", 8)
    tagger = trained("tag", [Example(tokens=w, tags=t) for w, t in TAGGED] * 4,
                     {"hidden_dim": 16, "embedding": {"dim": 16}}, root / "names", 25)
    translator = trained("translate", [Example(text=s, target=t) for s, t in PAIRS] * 4,
                         {"hidden_dim": 16, "src_embed_dim": 8, "tgt_embed_dim": 8, "encoder_layers": 1},
                         root / "de-en", 3, tokenizer="word", vocab={"min_freq": 1})
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "textrnn.cli", "serve", f"reviews={classifier}",
                                f"names={tagger}", f"de-en={translator}", "--port", str(port)],
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     "--disable-sync", "--window-size=1280,900",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def choose(driver, url: str, model: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    if driver.current_url != url:
        driver.get(url)
    wait = WebDriverWait(driver, TIMEOUT)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) == 3)
    Select(driver.find_element(By.ID, "model")).select_by_value(model)
    return wait


def ask(driver, wait, capability: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    wait.until(lambda d: d.find_element(By.ID, f"form-{capability}").is_displayed())
    box = driver.find_element(By.ID, f"{capability}-text")
    box.clear()
    if len(text) < 200:
        box.send_keys(text)
    else:   # typing thousands of keys one by one takes minutes; a paste is one step
        driver.execute_script("arguments[0].value = arguments[1]", box, text)
    driver.find_element(By.CSS_SELECTOR, f"#form-{capability} button[type=submit]").click()


def test_a_sentence_to_the_classifier_comes_back_as_labelled_bars(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    wait = choose(browser, server, "reviews")
    ask(browser, wait, "predict", "a wonderful film with great acting")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result .bar-label"))
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#result .bar-label")]
    shares = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#result .bar-value")]
    assert sorted(labels) == ["negative", "positive"] and all(s.endswith("%") for s in shares)
    assert browser.find_element(By.CSS_SELECTOR, "#result h3").text.startswith(labels[0])
    first = browser.find_element(By.CSS_SELECTOR, "#result .bar-fill")
    track = browser.find_element(By.CSS_SELECTOR, "#result .bar-track")
    share = float(shares[0].rstrip("%")) / 100
    assert abs(first.size["width"] / track.size["width"] - share) < 0.02, "the bar is drawn as long as its share"
    assert browser.find_elements(By.CSS_SELECTOR, "#curves svg polyline"), "the training curves are drawn"
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert browser.get_screenshot_as_file(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_sentence_to_the_tagger_comes_back_with_its_entities_highlighted(server, browser):
    from selenium.webdriver.common.by import By

    wait = choose(browser, server, "names")
    sentence = "Marie Curie visited Paris ."
    ask(browser, wait, "tag", sentence)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result .tagged"))
    assert browser.find_element(By.CSS_SELECTOR, "#result .tagged").text.replace("PER", "").replace("LOC", "") \
        .split() == sentence.split()
    marks = browser.find_elements(By.CSS_SELECTOR, "#result .tagged mark.entity")
    found = {(m.get_attribute("data-type"), m.text.rsplit("\n", 1)[0].removesuffix(m.get_attribute("data-type")).strip())
             for m in marks}
    assert ("PER", "Marie Curie") in found and ("LOC", "Paris") in found, found
    assert "Marie/B-PER" in browser.find_element(By.CSS_SELECTOR, "#result .tokens").text


def test_a_sentence_to_the_translator_comes_back_translated_with_its_attention(server, browser):
    from selenium.webdriver.common.by import By

    wait = choose(browser, server, "de-en")
    assert "(run's)" in browser.find_element(By.ID, "translate-beam").get_attribute("placeholder")
    browser.find_element(By.ID, "translate-attention").click()
    ask(browser, wait, "translate", "ein mann liest")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result .translation"))
    assert browser.find_element(By.CSS_SELECTOR, "#result .source").text == "ein mann liest"
    columns = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#result table.attention th.source-token")]
    assert columns == ["ein", "mann", "liest"]
    request = urllib.request.Request(f"{server}v1/models/de-en/translate", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"texts": ["ein mann liest"], "attention": True}).encode())
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        [expected] = json.loads(response.read())
    shown = browser.find_element(By.CSS_SELECTOR, "#result .translation").text
    assert shown == (expected["translation"] or "(an empty translation)")     # a tiny model may say nothing yet
    rows = browser.find_elements(By.CSS_SELECTOR, "#result table.attention tr")[1:]     # below the source's row
    assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == expected["target_tokens"]
    assert all(len(r.find_elements(By.TAG_NAME, "td")) == 3 for r in rows)
    assert not browser.find_element(By.ID, "error").is_displayed()


def test_a_bad_request_shows_the_servers_message(server, browser):
    from selenium.webdriver.common.by import By

    wait = choose(browser, server, "reviews")
    ask(browser, wait, "predict", "x" * 20_001)
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "over the cap of 20,000" in browser.find_element(By.ID, "error").text

"""The README's picture of the serve page: headless chromium (Debian's, with its chromedriver) asks a running
``textrnn serve`` one question and saves the page as a PNG.

    textrnn serve ner=runs/ner reuters=runs/reuters ptb=runs/ptb &
    python docs/screenshot.py --model ner --text "Teddy Roosevelt visited Paris in 1905 ." --out docs/serve.png
"""
from __future__ import annotations

import argparse
import shutil
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--model", required=True, help="the served model's name")
    parser.add_argument("--capability", help="the tab to use (default: the model's first)")
    parser.add_argument("--text", required=True)
    parser.add_argument("--out", default="docs/serve.png")
    parser.add_argument("--size", default="1280,760", help="window width,height in pixels")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as profile:
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--hide-scrollbars", f"--window-size={args.size}", f"--user-data-dir={profile}"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
        try:
            wait = WebDriverWait(driver, 30)
            driver.get(args.url)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
            Select(driver.find_element(By.ID, "model")).select_by_value(args.model)
            if args.capability:
                driver.find_element(By.CSS_SELECTOR, f"#tabs button[data-capability={args.capability}]").click()
            form = next(f for f in driver.find_elements(By.CSS_SELECTOR, "form.task") if f.is_displayed())
            form.find_element(By.TAG_NAME, "textarea").send_keys(args.text)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result .answer"))
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#curves .chart, #curves p"))
            driver.save_screenshot(args.out)
        finally:
            driver.quit()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

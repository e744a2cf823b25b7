#!/usr/bin/python3
"""The page of `lenet5 serve` in a real browser: headless Chromium (Debian chromium + chromium-driver) driven by
Selenium draws digits on the canvas with pointer strokes and uploads a real MNIST test image, and the page must
show what was drawn; the browser's console must stay free of errors.

    serve_browser_test.py --lenet5 BUILD/app/lenet5 --data MNIST_DIR [--model FILE.pt] [--screenshot FILE.png]

Without --model it trains a model briefly (1 epoch on 12,800 images) and exports it. Exit 77 (CTest's skip)
when chromium or chromedriver is not installed, or when MNIST is absent.
"""
import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from compare_serve import find_idx, free_port, write_mnist_pngs  # noqa: E402  (MNIST test images as PNG files)

SKIP = 77


def find_browser():
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    return chromium, driver


def exported_model(lenet5, mnist, work):
    run = os.path.join(work, "run")
    subprocess.run([lenet5, "train", "--data", mnist, "--epochs", "1", "--limit-train", "12800", "--limit-test", "500",
                    "--threads", "1", "--out", run], check=True, stdout=subprocess.DEVNULL)
    model = os.path.join(work, "model.pt")
    subprocess.run([lenet5, "export", "--checkpoint", os.path.join(run, "best.pt"), "--out", model], check=True,
                   stdout=subprocess.DEVNULL)
    return model


def start_server(lenet5, model, port, log):
    server = subprocess.Popen([lenet5, "serve", "--model", model, "--port", str(port)], stdout=log,
                              stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"lenet5 serve exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("lenet5 serve did not answer /healthz within 30 s")


def start_browser(chromium, driver_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1180,980", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


class Page:
    def __init__(self, driver, url):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver, self.By, self.url = driver, By, url
        self.wait = lambda seconds=10: WebDriverWait(driver, seconds)
        self.load()

    def load(self):
        self.driver.get(self.url)
        self.pad = self.driver.find_element(self.By.ID, "pad")
        # The model's metadata arrives from GET /v1/model.
        self.wait().until(lambda d: d.find_elements(self.By.CSS_SELECTOR, "#model-meta dd[data-field]"))

    def draw(self, *strokes):
        """Each stroke: points (x, y) as fractions of the canvas's width and height."""
        from selenium.webdriver.common.action_chains import ActionChains
        rect = self.pad.rect
        for points in strokes:
            pixels = [(x * rect["width"], y * rect["height"]) for x, y in points]
            # Selenium 4 offsets are from the element's centre; intermediate points every ~14 px, as a hand moves.
            actions = ActionChains(self.driver, duration=10)
            x0, y0 = pixels[0]
            actions.move_to_element_with_offset(self.pad, x0 - rect["width"] / 2, y0 - rect["height"] / 2)
            actions.click_and_hold()
            for (xa, ya), (xb, yb) in zip(pixels, pixels[1:]):
                steps = max(1, int(max(abs(xb - xa), abs(yb - ya)) / 14))
                for i in range(1, steps + 1):
                    actions.move_to_element_with_offset(self.pad, xa + (xb - xa) * i / steps - rect["width"] / 2,
                                                        ya + (yb - ya) * i / steps - rect["height"] / 2)
            actions.release()
            actions.perform()

    def clear(self):
        self.driver.find_element(self.By.ID, "clear").click()
        self.wait().until(lambda d: d.find_element(self.By.ID, "prediction").text.strip() == "")

    def shows(self, expected, seconds=10):
        """Waits until the page reads `expected` with no prediction pending (data-state="idle"), at most `seconds`;
        returns what it shows then."""
        def settled(d):
            idle = d.find_element(self.By.ID, "result").get_attribute("data-state") == "idle"
            return idle and d.find_element(self.By.ID, "prediction").text.strip() == expected
        try:
            self.wait(seconds).until(settled)
        except Exception:  # noqa: BLE001 (the caller's check says what the page shows)
            pass
        return self.state()

    def state(self):
        return self.driver.execute_script("""
            const top = document.querySelector('#bars li.top .bar-label');
            const view = document.getElementById('view');
            return {state: document.getElementById('result').dataset.state,
                    prediction: document.getElementById('prediction').textContent.trim(),
                    confidence: document.getElementById('confidence').textContent,
                    top_bar: top ? top.textContent : null,
                    bars: [...document.querySelectorAll('#bars .bar-value')].map(e => e.textContent),
                    view: view.hidden ? null : view.src.slice(0, 22),
                    view_size: [view.naturalWidth, view.naturalHeight],
                    digit_buttons: document.querySelectorAll('#digits .digit').length,
                    status: document.getElementById('status').textContent};""")

    def canvas_png(self):
        import base64
        data_url = self.driver.execute_script("return document.getElementById('pad').toDataURL('image/png');")
        return base64.b64decode(data_url.split(",", 1)[1])


def check(condition, message, failures):
    print(("ok:   " if condition else "FAIL: ") + message, flush=True)
    if not condition:
        failures.append(message)


def expect_single(page, expected, what, failures):
    state = page.shows(expected)
    check(state["prediction"] == expected and state["top_bar"] == expected and state["view"] == "data:image/png;base64,"
          and state["view_size"] == [28, 28], f"{what}: the page reads {expected} (page: {json.dumps(state)})",
          failures)


SEVEN = [[(0.36, 0.18), (0.64, 0.18), (0.47, 0.86)]]
ONE = [[(0.5, 0.12), (0.5, 0.88)]]
SEVENTEEN = [[(0.28, 0.14), (0.28, 0.86)], [(0.55, 0.18), (0.85, 0.18), (0.65, 0.86)]]
ZERO = [[(0.5 + 0.13 * math.sin(t / 24 * 2 * math.pi), 0.5 - 0.36 * math.cos(t / 24 * 2 * math.pi)) for t in range(25)]]


def check_refused_upload(page, work, failures):
    """A picture the server cannot read: the page says so and shows no reading."""
    path = os.path.join(work, "truncated.png")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
    page.driver.find_element(page.By.ID, "upload").send_keys(path)
    page.wait().until(lambda d: d.find_element(page.By.ID, "status").text.startswith("Could not read"))
    state = page.state()
    status_class = page.driver.find_element(page.By.ID, "status").get_attribute("class")
    check(state["prediction"] == "" and state["top_bar"] is None and "error" in status_class,
          f"a truncated PNG: the page shows the server's error and no reading ({state['status']})", failures)
    # The browser logs the refused request (4xx) as a network error; nothing else may be logged.
    logged = page.driver.get_log("browser")
    others = [e for e in logged if not (e["source"] == "network" and "/v1/predict" in e["message"]
                                        and " 4" in e["message"])]
    check(not others, f"only the refused request in the browser's console ({others})", failures)


def run_checks(page, server_url, images, failures):
    expect_single(page, "1", "a vertical stroke", failures)  # drawn by the caller before the first check
    page.clear()
    page.draw(*SEVEN)
    expect_single(page, "7", "a 7 drawn in two strokes", failures)
    page.clear()
    page.draw(*ZERO)
    expect_single(page, "0", "a 0 drawn as an ellipse", failures)
    page.clear()

    # Several digits: the page shows what the API returns, left to right.
    page.draw(*SEVENTEEN)
    time.sleep(0.5)
    request = urllib.request.Request(server_url + "/v1/predict", data=page.canvas_png(),
                                     headers={"Content-Type": "image/png"})
    reply = json.load(urllib.request.urlopen(request, timeout=10))
    digits = reply["digits"]
    expected = "".join(d["name"] for d in digits)
    state = page.shows(expected)
    check(state["prediction"] == expected, f"two digits drawn side by side: the page shows the API's reading "
          f"'{expected}' (page: {state['prediction']})", failures)
    if len(digits) > 1:
        check(state["digit_buttons"] == len(digits), f"one button per digit ({state['digit_buttons']})", failures)
        check(expected == "17", f"the API reads the two digits as 17 (it read {expected})", failures)
    else:
        print("note: the API read the two digits side by side as one; its reading of several was not exercised")
    page.clear()

    # A real MNIST test image, uploaded through the file input.
    for path, label in images:
        page.driver.find_element(page.By.ID, "upload").send_keys(path)
        expect_single(page, str(label), f"upload of {os.path.basename(path)}", failures)

    # The page's view of several digits, whatever the server's segmentation: the server's answers for the two
    # uploaded images, joined into one reply of two digits, stand in for the server's (fetch replaced in the page).
    answers = []
    for path, _ in images:
        with open(path, "rb") as f:
            request = urllib.request.Request(server_url + "/v1/predict", data=f.read(),
                                             headers={"Content-Type": "image/png"})
        answers += json.load(urllib.request.urlopen(request, timeout=10))["digits"]
    joined = {"number": "".join(d["name"] for d in answers), "digits": answers}
    page.driver.execute_script("""
        const reply = arguments[0], realFetch = window.fetch;
        window.fetch = (url, options) => String(url).endsWith('/v1/predict')
            ? Promise.resolve(new Response(JSON.stringify(reply), {headers: {'Content-Type': 'application/json'}}))
            : realFetch(url, options);""", joined)
    page.driver.find_element(page.By.ID, "upload").send_keys(images[0][0])
    expected = joined["number"]
    state = page.shows(expected)
    check(state["prediction"] == expected and state["digit_buttons"] == len(answers),
          f"a reply of {len(answers)} digits: the page reads {expected} with one button per digit "
          f"(page: {state['prediction']}, {state['digit_buttons']} buttons)", failures)
    outlined = page.driver.execute_script("""
        const overlay = document.getElementById('boxes');
        const alpha = overlay.getContext('2d').getImageData(0, 0, overlay.width, overlay.height).data;
        let painted = 0;
        for (let i = 3; i < alpha.length; i += 4) painted += alpha[i] > 0;
        return painted;""")
    check(outlined > 0, f"each digit's box is outlined over the pad ({outlined} pixels)", failures)
    page.driver.find_elements(page.By.CSS_SELECTOR, "#digits .digit")[-1].click()
    state = page.state()
    check(state["top_bar"] == answers[-1]["name"], f"a click on the last digit shows its probabilities (top bar: "
          f"{state['top_bar']}, expected {answers[-1]['name']})", failures)
    page.load()  # the page's own fetch again


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenet5", required=True)
    parser.add_argument("--data", required=True, help="MNIST folder")
    parser.add_argument("--model")
    parser.add_argument("--screenshot", help="save a screenshot of the page reading a drawn 17 here")
    args = parser.parse_args()
    chromium, driver_path = find_browser()
    if not chromium or not driver_path:
        print("chromium or chromedriver is not installed (Debian: chromium chromium-driver): skipping")
        return SKIP
    if not os.path.exists(find_idx(args.data, "t10k-images-idx3-ubyte")):
        print(f"MNIST not found in {args.data} (scripts/fetch_data.sh installs it): skipping")
        return SKIP
    work = tempfile.mkdtemp(prefix="lenet5-browser-")
    failures, server, driver = [], None, None
    log = open(os.path.join(work, "serve.log"), "wb")
    try:
        model = args.model or exported_model(args.lenet5, args.data, work)
        images = write_mnist_pngs(args.data, os.path.join(work, "mnist"), 2)
        port = free_port()
        server = start_server(args.lenet5, model, port, log)
        url = f"http://127.0.0.1:{port}"
        driver = start_browser(chromium, driver_path)
        page = Page(driver, url + "/")
        check(driver.title.startswith("LeNet-5"), f"GET / serves the page (title: {driver.title})", failures)
        check_refused_upload(page, work, failures)
        page.draw(*ONE)
        run_checks(page, url, images, failures)
        if args.screenshot:
            page.clear()
            page.draw(*SEVENTEEN)
            page.shows("17")
            height = driver.execute_script("return document.documentElement.scrollHeight;")
            driver.set_window_size(1180, min(height + 140, 1600))  # the whole page, window frame included
            driver.save_screenshot(args.screenshot)
            print(f"screenshot: {args.screenshot}")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        check(not errors, f"no errors in the browser's console ({errors})", failures)
    finally:
        if driver:
            driver.quit()
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()
        if failures:
            print(open(os.path.join(work, "serve.log"), errors="replace").read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failure(s)" if failures else "all browser checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

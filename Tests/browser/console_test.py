#!/usr/bin/env python3
"""The operator console in a real browser: headless Chromium (Debian's chromium and chromium-driver) driven by
Selenium, against a running broker. Called by ConsoleBrowserTests with the broker's URL and an admin API key.

Exit status 0 when every check holds; otherwise 1, with each failed check on standard error. Screenshots of the
dashboard and the tenant list (1280x800, and the dashboard in a narrow window) go to --screenshots.
"""
import argparse
import base64
import json
import os
import sys
import tempfile
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGklEQVR42mNk+M9AEmBk+E8aYBw1YNSAYW4AAJ0cH+FvU8dwAAAAAElFTkSuQmCC")
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)
    return condition


def api(base, key, method, path, body=None):
    request = urllib.request.Request(base + path, method=method, headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    if body is not None:
        request.data = json.dumps(body).encode()
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
        return json.loads(text) if text else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--login-user", required=True)
    parser.add_argument("--login-password", required=True)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    os.makedirs(args.screenshots, exist_ok=True)

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                 "--no-first-run", "--disable-extensions", "--password-store=basic"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    wait = WebDriverWait(driver, 10)

    def visible(css):
        return wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text_in(css, text):
        try:
            wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
            return True
        except TimeoutException:
            return False

    def heading(text):
        return text_in("main h1", text)

    def go(hash_):
        driver.execute_script("location.hash = arguments[0]", hash_)

    def no_alert():
        try:
            driver.switch_to.alert
            return False
        except NoAlertPresentException:
            return True

    def confirm_dialog():
        visible("#confirm[open] #confirm-ok").click()

    try:
        driver.set_window_size(1280, 800)
        # --- sign-in: a wrong key is refused, the admin key is taken ------------------------------------------
        driver.get(base + "/console/")
        check(heading("Sign in"), "the console opens on sign-in")
        key_input = visible("form[aria-labelledby=signin-key] input")
        key_input.send_keys("tbk_nothere_notakey")
        key_input.send_keys(Keys.ENTER)
        check(text_in("#notice", "refused"), "a wrong key is refused with a message")
        key_input = visible("form[aria-labelledby=signin-key] input")
        key_input.clear()
        key_input.send_keys(args.key)
        key_input.send_keys(Keys.ENTER)
        check(heading("Dashboard"), "an admin key signs in to the dashboard")
        total_before = int(visible("[data-tile=total] .value").text)
        active_before = int(visible("[data-tile=active] .value").text)
        check(driver.execute_script("return localStorage.length") == 0, "nothing in localStorage")
        check(driver.execute_script("return document.cookie") == "", "no cookie")
        check(driver.execute_script("return sessionStorage.length") == 1, "the credential is in sessionStorage")

        # --- create a tenant with 2FA on: a bad otpExpiry is shown beside its field -----------------------------
        go("#/tenants/new")
        check(heading("New tenant"), "the new-tenant form opens")
        unlabeled = driver.execute_script(
            "return [...document.querySelectorAll('main input, main select')].filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).length")
        check(unlabeled == 0, f"every field of the tenant form has a label ({unlabeled} without)")

        def field(path):
            return driver.find_element(By.CSS_SELECTOR, f'[data-field="{path}"]')

        field("tenantId").send_keys("acme")
        field("keycloak.realm").send_keys("acme")
        field("keycloak.clientSecret").send_keys("s3cret-acme")
        field("keycloak.Otp_Manager_Url").send_keys("http://otp.example.com:3000/")
        check(field("twoFAConfig.isEnabled").is_selected(), "2FA is on by default in the form")
        Select(field("twoFAConfig.channelType")).select_by_value("SMS")
        field("twoFAConfig.serviceIdentifier").send_keys("sms-gateway-1")
        expiry = field("twoFAConfig.otpExpiry")
        expiry.clear()
        expiry.send_keys("5")
        logo_path = os.path.join(tempfile.mkdtemp(), "logo.png")
        with open(logo_path, "wb") as handle:
            handle.write(PNG)
        field("logo").send_keys(logo_path)
        preview = visible("#logo-preview img")
        check(wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", preview)) == 16,
              "the logo preview shows the chosen image")
        driver.find_element(By.CSS_SELECTOR, "#tenant-form button[type=submit]").click()
        error_css = '[data-for="twoFAConfig.otpExpiry"] .field-error'
        check(text_in(error_css, "30"), "the API's rule for otpExpiry is shown next to the field")
        check(field("twoFAConfig.otpExpiry").get_attribute("aria-invalid") == "true", "the field is marked invalid")
        driver.save_screenshot(os.path.join(args.screenshots, "console-field-error.png"))
        expiry = field("twoFAConfig.otpExpiry")
        expiry.clear()
        expiry.send_keys("120")
        driver.find_element(By.CSS_SELECTOR, "#tenant-form button[type=submit]").click()
        check(heading("Tenant acme"), "the created tenant's page opens")
        check(text_in("#notice", "created"), "the creation is confirmed")
        try:
            wait.until(lambda d: d.execute_script("const i = document.querySelector('img.logo-preview'); return i && i.complete && i.naturalWidth") == 16)
        except TimeoutException:
            check(False, "the tenant page shows the uploaded logo")
        check("s3cret-acme" not in driver.page_source, "the client secret is not shown")

        # --- edit: only what changed is sent; a stale form is refused (If-Match), not silently saved -----------------
        visible("#edit-tenant").click()
        check(heading("Edit tenant acme"), "the edit form opens")
        expiry = field("twoFAConfig.otpExpiry")
        expiry.clear()
        expiry.send_keys("300")
        driver.find_element(By.CSS_SELECTOR, "#tenant-form button[type=submit]").click()
        check(heading("Tenant acme") and text_in("main dl.props", "300 s"), "the edit is saved and shown")
        check(api(base, args.key, "GET", "/v1/tenants/acme")["twoFAConfig"]["otpExpiry"] == 300, "the API has the new expiry")
        visible("#edit-tenant").click()
        check(heading("Edit tenant acme"), "the edit form opens again")
        api(base, args.key, "PATCH", "/v1/tenants/acme", {"mediaServer": {"host": "m9.example.com", "port": 5061}})  # someone else
        expiry = field("twoFAConfig.otpExpiry")
        expiry.clear()
        expiry.send_keys("200")
        driver.find_element(By.CSS_SELECTOR, "#tenant-form button[type=submit]").click()
        check(text_in("#tenant-form .form-errors", "Someone changed this tenant"), "a stale form is refused with a clear message")
        check(api(base, args.key, "GET", "/v1/tenants/acme")["twoFAConfig"]["otpExpiry"] == 300, "and nothing of it was saved")
        go("#/tenants/acme")
        check(heading("Tenant acme"), "back to the tenant")

        # --- list and dashboard see it ---------------------------------------------------------------------------
        go("#/tenants")
        check(heading("Tenants"), "the tenant list opens")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#tenants tr[data-tenant=acme]")) == 1, "the new tenant is in the list")
        driver.save_screenshot(os.path.join(args.screenshots, "console-tenants.png"))
        Select(visible("#status-filter")).select_by_value("suspended")
        check(heading("Tenants") and "status=" not in driver.current_url, "choosing a status does not navigate by itself")
        visible("#apply-filter").click()
        check(text_in("main", "No tenants with status suspended"), "the status filter narrows the list")
        go("#/dashboard")
        check(heading("Dashboard"), "back to the dashboard")
        check(text_in("[data-tile=total] .value", str(total_before + 1)), "the dashboard's total counts the new tenant")
        check(text_in("[data-tile=active] .value", str(active_before + 1)), "the dashboard's active tile counts it")
        bars = driver.find_elements(By.CSS_SELECTOR, "#new-tenants-chart rect.bar-rect")
        check(len(bars) == 12, f"12 monthly bars ({len(bars)})")
        check(sum(int(b.get_attribute("data-count")) for b in bars) >= 1, "the chart counts this month's tenant")
        driver.save_screenshot(os.path.join(args.screenshots, "console-dashboard.png"))
        driver.set_window_size(420, 800)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 1, f"the dashboard fits a narrow window ({overflow}px too wide)")
        driver.save_screenshot(os.path.join(args.screenshots, "console-dashboard-narrow.png"))
        driver.set_window_size(1280, 800)

        # --- suspend, resume, delete with confirmation ---------------------------------------------------------------
        api(base, args.key, "POST", "/v1/tenants", {
            "tenantId": "doomed", "keycloak": {"realm": "doomed", "clientId": "cx-portal"}, "twoFAConfig": {"isEnabled": False}})
        go("#/tenants/doomed")
        check(heading("Tenant doomed"), "the second tenant's page opens")
        visible("#suspend").click()
        visible("#confirm[open] #confirm-cancel").click()
        check(text_in("main .status", "active"), "cancelling the confirmation changes nothing")
        visible("#suspend").click()
        confirm_dialog()
        check(text_in("main .status", "suspended"), "suspend, confirmed")
        visible("#resume").click()
        confirm_dialog()
        check(text_in("main .status", "active"), "resume, confirmed")
        visible("#delete").click()
        confirm_dialog()
        check(text_in("main .status", "deleted"), "delete, confirmed")
        check(api(base, args.key, "GET", "/v1/tenants/doomed")["status"] == "deleted", "the API agrees it is deleted")

        # --- API keys: shown once, copied, revoked; a hostile name stays text ------------------------------------
        go("#/api-keys")
        check(heading("API keys"), "the API key view opens")
        unlabeled = driver.execute_script(
            "return [...document.querySelectorAll('main input, main select')].filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).length")
        check(unlabeled == 0, f"every field of the key form has a label ({unlabeled} without)")
        visible('[data-field="name"]').send_keys(XSS)
        tenants = driver.find_element(By.CSS_SELECTOR, '[data-field="tenants"]')
        tenants.clear()
        tenants.send_keys("acme")
        driver.find_element(By.ID, "scope-token-mint").click()
        driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
        secret = visible("#new-key-value").get_attribute("value")
        check(secret.startswith("tbk_"), "the new key is shown")
        visible("#copy-key").click()
        try:
            wait.until(lambda d: d.find_element(By.ID, "copy-key").text in ("Copied", "Selected: press Ctrl+C"))
        except TimeoutException:
            check(False, f"the copy button answers ({driver.find_element(By.ID, 'copy-key').text!r})")
        key_id = secret[4:].split("_")[0]
        row = visible(f'#api-keys tr[data-key="{key_id}"]')
        check(row.find_elements(By.CSS_SELECTOR, "td")[1].text == XSS, "a hostile key name is shown as text")
        check(len(row.find_elements(By.CSS_SELECTOR, "img, script")) == 0, "and makes no element")
        check(driver.execute_script("return window.__xss") is None and no_alert(), "and runs nothing")
        visible("#dismiss-key").click()
        check(wait.until(lambda d: secret not in d.page_source), "the key is gone from the page once dismissed")
        visible(f'[data-revoke="{key_id}"]').click()
        confirm_dialog()
        check(text_in(f'#api-keys tr[data-key="{key_id}"]', "revoked"), "the key is revoked")
        revoked = [k for k in api(base, args.key, "GET", "/v1/api-keys")["items"] if k["id"] == key_id]
        check(bool(revoked) and revoked[0].get("revokedAt"), "the API agrees the key is revoked")

        # --- audit filter, signing keys ----------------------------------------------------------------------------
        go("#/audit?tenantId=acme")
        check(heading("Audit"), "the audit view opens")
        check(text_in("#audit", "tenant.create"), "the audit trail of acme shows its creation")
        check("doomed" not in visible("#audit").text, "the filter keeps other tenants out")
        go("#/keys")
        check(heading("Signing keys"), "the key view opens")
        jwks = json.load(urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=10))
        for key in jwks["keys"]:
            check(text_in("#signing-keys", key["kid"]), f"published kid {key['kid']} is listed")
        check(text_in("#signing-keys", "active"), "the active key is marked")
        check(visible("[data-tile=active-age] .value").text not in ("", "—"), "the active key's age is shown")

        # --- keyboard: the skip link and the navigation are reachable by Tab ---------------------------------------
        driver.get(base + "/console/#/dashboard")
        check(heading("Dashboard"), "reload keeps the session (sessionStorage)")
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        check(driver.execute_script("return document.activeElement.className") == "skip", "Tab first reaches the skip link")
        go("#/api-keys")
        check(heading("API keys"), "on the API key view")
        driver.execute_script("document.querySelector('a.skip').focus()")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        check(heading("API keys") and driver.execute_script("return document.activeElement.id") == "main",
              "the skip link moves focus to the content and keeps the view")
        go("#/dashboard")
        check(heading("Dashboard"), "back on the dashboard")
        driver.execute_script("document.activeElement.blur()")
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        reached = []
        for _ in range(6):
            driver.switch_to.active_element.send_keys(Keys.TAB)
            reached.append(driver.execute_script("return document.activeElement.getAttribute('href')"))
        check("#/tenants" in reached and "#/api-keys" in reached, f"Tab reaches the sections ({reached})")

        # --- a CSP violation would show in the browser's log ---------------------------------------------------------
        logs = [entry["message"] for entry in driver.get_log("browser")]
        check(not any("Content Security Policy" in m for m in logs), f"no CSP violation: {logs}")

        # --- sign-out, and an expired session returns to sign-in ---------------------------------------------------
        visible("#signout").click()
        check(heading("Sign in"), "sign-out returns to sign-in")
        check(driver.execute_script("return sessionStorage.length") == 0, "sign-out forgets the credential")
        driver.execute_script(
            "sessionStorage.setItem('token-broker.console.session', JSON.stringify({kind: 'login', token: 'x', label: 'ada', expiresAt: Date.now() - 1000}));")
        driver.get(base + "/console/#/tenants")
        check(heading("Sign in"), "an expired session opens on sign-in")
        driver.execute_script(
            "sessionStorage.setItem('token-broker.console.session', JSON.stringify({kind: 'key', token: 'tbk_revoked_x', label: 'API key'}));")
        driver.get(base + "/console/index.html#/tenants")   # another URL than the last: a real load
        check(heading("Sign in") and text_in("#notice", "expired"), "a refused credential returns to sign-in, saying why")
        # --- a master-realm admin through /v1/login: a wrong password is refused, the right one signs in ----------
        login = visible("form[aria-labelledby=signin-login]")
        user = login.find_element(By.CSS_SELECTOR, '[data-field="username"]')
        password = login.find_element(By.CSS_SELECTOR, '[data-field="password"]')
        user.send_keys(args.login_user)
        password.send_keys("wrong-password")
        password.send_keys(Keys.ENTER)
        check(text_in("form[aria-labelledby=signin-login] .form-errors", "invalid"), "a wrong password is refused with the API's message")
        check(password.get_attribute("value") == "", "the refused password is cleared from the field")
        password.send_keys(args.login_password)
        password.send_keys(Keys.ENTER)
        check(heading("Dashboard"), "a master-realm admin signs in through /v1/login")
        check(text_in("#who", args.login_user), "the console says who is signed in")
        stored = driver.execute_script("return sessionStorage.getItem('token-broker.console.session') || ''")
        check(args.login_password not in stored, "the password is not kept")
        # An access token about to expire is renewed through /v1/login/refresh before the next call.
        before = driver.execute_script("""
            const s = JSON.parse(sessionStorage.getItem('token-broker.console.session'));
            s.expiresAt = Date.now() + 5000;
            sessionStorage.setItem('token-broker.console.session', JSON.stringify(s));
            return s.token;""")
        go("#/tenants")
        check(heading("Tenants") and len(driver.find_elements(By.CSS_SELECTOR, "#tenants tr[data-tenant=acme]")) == 1,
              "the Keycloak session reads the registry")
        renewed = driver.execute_script("return JSON.parse(sessionStorage.getItem('token-broker.console.session'))")
        check(renewed["token"] != before and renewed["expiresAt"] > driver.execute_script("return Date.now()") + 20000,
              "a token near its expiry is renewed with the refresh token")
        visible("#signout").click()
        check(heading("Sign in"), "sign-out of the Keycloak session returns to sign-in")
        check(driver.execute_script("return sessionStorage.length") == 0, "and forgets its tokens")
    except Exception as error:  # a broken page shows as a failed check with the page's state, not a traceback only
        failures.append(f"unexpected {type(error).__name__}: {error}")
        print(f"FAIL: unexpected {type(error).__name__}: {error}", file=sys.stderr)
        try:
            driver.save_screenshot(os.path.join(args.screenshots, "console-failure.png"))
            print(driver.find_element(By.TAG_NAME, "main").text[:2000], file=sys.stderr)
        except Exception:
            pass
    finally:
        driver.quit()
    print(f"console browser test: {len(failures)} failed check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

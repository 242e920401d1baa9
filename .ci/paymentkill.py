"""The driver of .ci/paymentkill: runs `cascade demo` (argv: the binary, the port, the work folder),
kills it with -9 in each phase and starts it again, then checks the ledger, the sandboxes' state
files and the platform's payments against each other. Ends "paymentkill: N passed, N failed"."""
import json, os, signal, subprocess, sys, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_login  # noqa: E402

binary, port, folder = sys.argv[1], sys.argv[2], sys.argv[3]
api = f"http://127.0.0.1:{port}/api/v1"
server = None
errors = []  # answers that must never happen: 500s


def start():
    global server
    log = open(f"{folder}/demo.log", "a")
    server = subprocess.Popen([binary, "demo", "--port", port], stdout=log, stderr=log)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(api + "/node/status", timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit("cascade demo did not start")


def kill(what):
    server.send_signal(signal.SIGKILL)
    server.wait()
    print(f"   {what}; the server killed (-9)")
    start()
    print("   restarted on the same database")


def call(method, path, token=None, body=None, timeout=30):
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read() or b"{}")
        if e.code >= 500 and e.code != 503:
            errors.append((method, path, e.code, answer))
        return e.code, answer
    except Exception as e:
        return 0, {"error": str(e)}


def key(who, otp=False):
    return demo_login.login(api, who, otp)


def until(what, condition, seconds=240):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(1)
    print("   not within", seconds, "s:", what)
    return False


def approve_held(held, checker):
    """A checker's approval of what was held; asked again while the wallet service refuses or is slow."""
    for _ in range(30):
        status, done = call("POST", f"/approvals/{held['approval']['id']}/approve", checker)
        if status == 201 or (status == 409 and done.get("code") == "approval_not_pending"):
            return done
        time.sleep(0.5)
    raise AssertionError((held, status, done))


def prepare(path, token, body=None):
    """A maker's step, asked again while a fault of the wallet service refuses it (503)."""
    for _ in range(30):
        status, answer = call("POST", path, token, body)
        if status != 503 and status != 0:
            return status, answer
        time.sleep(0.5)
    return status, answer


def financed(holder, fen, pieces, bank):
    """The holder's piece of the receivable worth `fen`, split into `pieces` equal ones, each financed at `bank`."""
    token = next(t["id"] for t in call("GET", "/tokens?status=active&limit=200", holder)[1]["items"] if t["amountFen"] == fen and t["receivableId"] == rid)
    status, split = call("POST", f"/tokens/{token}/split", holder, {"amountsFen": [fen // pieces] * pieces})
    assert status == 201, split
    financings = []
    for piece in (t["id"] for t in split["tokens"] if t["status"] == "active"):
        status, f = call("POST", "/financings", holder, {"tokenId": piece, "bankId": ids[bank]})
        assert status == 201, f
        financings.append(f["financing"]["id"])
    return financings


start()
t1, t2, core, core_checker, op, reg = key("tier1"), key("tier2"), key("core"), key("core-checker"), key("operator"), key("regulator")
bank, checker, bank2 = key("bank", otp=True), key("bank-checker", otp=True), key("bank2", otp=True)
_, orgs = call("GET", "/orgs?limit=200", reg)
names = {o["id"]: o["name"] for o in orgs["items"]}
ids = {o["name"]: o["id"] for o in orgs["items"]}
_, receivables = call("GET", "/receivables?limit=200", core)
first = next(r for r in receivables["items"] if r["faceFen"] == 100000000)
rid, due = first["id"], first["dueDate"]

print("-- 1. 24 payouts by e-CNY from 江南商业银行 (maker and checker); killed after twelve")
ecny_financings = financed(t1, 60000000, 24, "江南商业银行")


def approval(f):
    """77号: the bank's 中登网 registration of the assignment, dated today."""
    _, node = call("GET", "/node/status")
    return {"filing": {"number": "CI-" + f[:12], "filedOn": node["businessDate"]}}


def approve_at_jiangnan(f):
    status, held = prepare(f"/financings/{f}/approve", bank, approval(f))
    assert status == 202, (status, held)
    approve_held(held, checker)


with ThreadPoolExecutor(4) as pool:
    list(pool.map(approve_at_jiangnan, ecny_financings[:12]))
kill("twelve financings approved, their payouts on their way")
with ThreadPoolExecutor(4) as pool:
    list(pool.map(approve_at_jiangnan, ecny_financings[12:]))

print("-- 2. 25 payouts by bank transfer from 沪上保理, approved at once; killed before the bank's notifications are read")
bank_financings = financed(t2, 25000000, 25, "沪上保理")
with ThreadPoolExecutor(8) as pool:
    answers = list(pool.map(lambda f: prepare(f"/financings/{f}/approve", bank2, approval(f)), bank_financings))
assert all(s == 200 for s, _ in answers), answers
kill("25 payouts instructed by pain.001")


def paid_or_retried(financings, payer):
    """Every financing paid; a payout the bank returned is paid again by its payer, as the next attempt."""
    def check():
        done = True
        for f in financings:
            if call("GET", f"/financings/{f}", reg)[1].get("status") == "paid":
                continue
            done = False
            attempts = call("GET", f"/payments?financingId={f}", reg)[1].get("items", [])
            if attempts and all(a["status"] in ("returned", "failed") for a in attempts):
                status, again = call("POST", f"/payments/{attempts[0]['id']}/retry", payer)
                assert status in (201, 409), (status, again)
        return done
    return check


until("every e-CNY payout paid", paid_or_retried(ecny_financings, bank))
until("every bank-transfer payout paid", paid_or_retried(bank_financings, bank2))

print("-- 3. early payments from 华东重工集团's own cash by e-CNY: 40 offers, the market cleared; killed while it clears")
_, node = call("GET", "/node/status")
days_seen = {node["businessDate"]}
pending = next(t for t in call("GET", "/tokens?status=pending&limit=200", t1)[1]["items"] if t["amountFen"] == 25000000)
status, accepted = call("POST", f"/tokens/{pending['id']}/accept", t1)
assert status == 200, accepted
status, split = call("POST", f"/tokens/{pending['id']}/split", t1, {"amountsFen": [625000] * 40})
assert status == 201, split
early = []
for i, piece in enumerate(t["id"] for t in split["tokens"] if t["status"] == "active"):
    status, offer = call("POST", "/early-payments", t1, {"tokenId": piece, "rateBps": 610 + 5 * i})
    assert status == 201, offer
    early.append(offer["earlyPayment"]["id"])
# The demo's own offer (常州五金加工, 7.20%) clears with them, if the cut-off has not taken it already.
early += [e["id"] for e in call("GET", "/early-payments?status=requested&limit=200", reg)[1]["items"] if e["id"] not in early]
with ThreadPoolExecutor(1) as pool:
    clearing = pool.submit(lambda: call("POST", "/early-payments/clear", core, timeout=120))
    def taken_so_far():
        return sum(len(call("GET", f"/early-payments?status={s}&limit=200", reg)[1].get("items", [])) for s in ("approved", "paid"))
    deadline = time.time() + 60
    while taken_so_far() < 3 and time.time() < deadline:
        # A clearing the wallet sandbox's faults stopped before it took anything answers 503
        # (what was taken stands): the core's maker clears again, as a person would.
        if clearing.done():
            print("   the clearing answered", clearing.result()[0], "before the kill; cleared again")
            clearing = pool.submit(lambda: call("POST", "/early-payments/clear", core, timeout=120))
        time.sleep(0.05)
    kill(f"the market clearing, {taken_so_far()} offers taken so far and their payments on their way")
    print("   the clearing's answer:", clearing.result()[0], "(0: cut off by the kill)")


def early_paid():
    """Every offer taken and paid: the market cleared again for what the kill left, a payment the wallet refused paid again."""
    states = {e: call("GET", f"/early-payments/{e}", reg)[1] for e in early}
    if all(s.get("status") == "paid" for s in states.values()):
        return True
    if any(s.get("status") == "requested" for s in states.values()):
        prepare("/early-payments/clear", core)
    for e, s in states.items():
        attempts = s.get("payments", [])
        if s.get("status") == "approved" and attempts and all(a["status"] in ("returned", "failed") for a in attempts):
            status, again = call("POST", f"/payments/{attempts[-1]['id']}/retry", core)
            assert status in (201, 409), (status, again)
    return False


until("every early payment paid", early_paid)
_, node = call("GET", "/node/status")
days_seen.add(node["businessDate"])

print(f"-- 4. at maturity ({due}) 华东重工集团 pays every holder of the receivable by e-CNY; killed after its checker's approval")
status, moved = call("POST", "/admin/clock", op, {"today": due})
assert status == 200, moved


def settle():
    status, held = prepare(f"/receivables/{rid}/settle", core, {"reference": "CNAPS-SETTLE-LOAD"})
    assert status == 202, (status, held)
    return approve_held(held, core_checker)


done = settle()
print(f"   {len(done.get('payments', []))} payments instructed")
kill("the settlement's payments on their way")


def settled_or_settled_again():
    if call("GET", f"/receivables/{rid}", reg)[1].get("status") == "settled":
        return True
    payments = call("GET", f"/payments?receivableId={rid}&limit=200", reg)[1].get("items", [])
    live = {p["tokenId"] for p in payments if p["status"] not in ("returned", "failed")}
    if any(p["status"] in ("returned", "failed") and p["tokenId"] not in live for p in payments):
        settle()  # a piece whose payment failed is paid anew
    return False


until("the receivable settled", settled_or_settled_again)

print("-- checks")
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("  ok:", what)
    else:
        failed += 1
        print("  FAIL:", what)


def every(path):
    items, cursor = [], None
    while True:
        _, page = call("GET", path + ("&cursor=" + cursor if cursor else ""), reg)
        items += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return items


payments = every("/payments?limit=200")
settled = [p for p in payments if p["status"] == "settled"]
financings = ecny_financings + bank_financings
states = [call("GET", f"/financings/{f}", reg)[1] for f in financings]
check(all(s["status"] == "paid" for s in states), f"every financing paid out ({sum(s['status'] == 'paid' for s in states)} of {len(financings)})")
for f in financings:
    if sum(1 for p in settled if p["kind"] == "payout" and p.get("financingId") == f) != 1:
        check(False, f"financing {f} paid exactly once")
        break
else:
    check(True, f"each of them paid exactly once ({sum(1 for p in payments if p['kind'] == 'payout' and p['status'] == 'returned')} returned transfers paid again)")
# The payouts of this run's financings (the demo's own 200-day financing at 沪上保理 is paid out by
# bank transfer when the demo starts, and is checked with every balance below).
payouts = sum(p["amountFen"] for p in settled if p["kind"] == "payout" and p.get("financingId") in financings)
check(sum(s["payoutFen"] for s in states) == payouts, f"the ledger's payouts and the rails' agree to the fen (¥{payouts / 100:,.2f})")
early_states = [call("GET", f"/early-payments/{e}", reg)[1] for e in early]
check(all(e["status"] == "paid" for e in early_states), f"every early payment taken and paid ({sum(e['status'] == 'paid' for e in early_states)} of {len(early)})")
early_settled = [p for p in settled if p["kind"] == "early_payment"]
check(all(sum(1 for p in early_settled if p.get("earlyPaymentId") == e) == 1 for e in early), "each of them paid exactly once")
check(sum(e["payoutFen"] for e in early_states) == sum(p["amountFen"] for p in early_settled if p.get("earlyPaymentId") in early),
      f"the ledger's early payments and the rail's agree to the fen (¥{sum(e['payoutFen'] for e in early_states) / 100:,.2f})")
taken = every("/early-payments?limit=200")
spent = sum(e["payoutFen"] for e in taken if e["status"] in ("approved", "paid"))
check(spent <= 50000000 * len(days_seen), f"the core spent no more than its day's budget (¥{spent / 100:,.2f} of ¥500,000.00 a day)")
receivable = call("GET", f"/receivables/{rid}", reg)[1]
settlements = [p for p in settled if p["kind"] == "settlement" and p.get("receivableId") == rid]
paid_early = sum(e["amountFen"] for e in taken if e["status"] == "paid" and e["receivableId"] == rid)
check(receivable.get("status") == "settled", "the receivable is settled")
check(len({p["tokenId"] for p in settlements}) == len(settlements), f"each piece paid once ({len(settlements)} pieces)")
check(sum(p["amountFen"] for p in settlements) + paid_early == receivable["faceFen"],
      f"its holders were paid its face value, ¥{receivable['faceFen'] / 100:,.2f} (¥{paid_early / 100:,.2f} of it early)")
check(all(p["transactionId"] for p in settled), "every settled payment is on the ledger")

wallets, bank_state = json.load(open(f"{folder}/wallets.json")), json.load(open(f"{folder}/bank.json"))
by_rail = lambda rail, status: sorted(p["id"] for p in payments if p["rail"] == rail and p["status"] == status)
check(sorted(p["paymentId"] for p in wallets["payments"] if p["status"] == "settled") == by_rail("ecny", "settled"), "the wallet service paid exactly the payments the platform holds settled")
check(sorted(t["endToEndId"] for t in bank_state["transfers"] if t["status"] == "settled") == by_rail("bank", "settled"), "the bank booked exactly the transfers the platform holds settled")
check(sorted(t["endToEndId"] for t in bank_state["transfers"] if t["status"] == "returned") == by_rail("bank", "returned"), "and returned exactly those it holds returned")
start_fen = {"W-JNCB-0001": 20000000000, "W-HDHI-0001": 10000000000}
accounts = {}
for org in ids.values():
    for a in call("GET", f"/orgs/{org}/payment-accounts", reg)[1]["items"]:
        accounts[(org, a["rail"])] = a["account"]
expected = {}
for p in settled:
    for org, sign in ((p["payerId"], -1), (p["payeeId"], 1)):
        account = accounts[(org, p["rail"])]
        expected[account] = expected.get(account, start_fen.get(account, 0)) + sign * p["amountFen"]
wrong = [(names[o], a, expected.get(a, start_fen.get(a, 0)), wallets["wallets"].get(a) if r == "ecny" else bank_state["balances"].get(a, 0))
         for (o, r), a in accounts.items() if expected.get(a, start_fen.get(a, 0)) != (wallets["wallets"].get(a) if r == "ecny" else bank_state["balances"].get(a, 0))]
check(not wrong, f"every wallet's and bank account's balance is what the platform's payments say, to the fen ({len(accounts)} accounts)" + (f": {wrong}" if wrong else ""))
shown = {names[o] + " " + a: expected.get(a, start_fen.get(a, 0)) for (o, r), a in accounts.items() if expected.get(a, start_fen.get(a, 0)) != start_fen.get(a, 0)}
print("   balances moved:", json.dumps({k: f"{v / 100:,.2f}" for k, v in sorted(shown.items())}, ensure_ascii=False))
today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
for day in sorted({today, due}):
    _, report = call("GET", f"/reconciliation?date={day}", reg)
    print("   reconciliation", day, json.dumps({k: report.get(k) for k in ("rail", "ledger", "byKind", "differences")}, ensure_ascii=False))
    check(report.get("balanced") is True, f"the reconciliation of {day} balances")
check(not errors, f"no answer was a 500 ({errors[:3]})")
server.send_signal(signal.SIGTERM)
server.wait(timeout=30)
print(f"paymentkill: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)

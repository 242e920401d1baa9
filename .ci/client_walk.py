"""A receivable from issue to settlement through the Python client that openapi-python-client
generated from Public/openapi.yaml: the core's maker issues above its checker's threshold and
the checker approves; the supplier accepts and finances its piece at the bank, whose users sign
in with TOTP (pyotp) and whose checker approves; at maturity the core settles through its
checker and its e-CNY rail. The supplier's webhook receiver, on loopback, checks every delivery
with the README's ten lines. Every answer is read through the client's typed models: a document
that does not describe what the server answers fails here.

    python3 client_walk.py GENERATED_DIR BASE_URL
"""
import datetime
import http.server
import json
import re
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
base = sys.argv[2]

import pyotp  # noqa: E402
from cascade_client import AuthenticatedClient, Client  # noqa: E402
from cascade_client.api.admin import move_business_clock  # noqa: E402
from cascade_client.api.approvals import approve_approval  # noqa: E402
from cascade_client.api.auth import login  # noqa: E402
from cascade_client.api.credit import list_credit_lines  # noqa: E402
from cascade_client.api.financing import approve_financing, get_financing, request_financing  # noqa: E402
from cascade_client.api.orgs import list_orgs  # noqa: E402
from cascade_client.api.receivables import get_receivable, issue_receivable, settle_receivable  # noqa: E402
from cascade_client.api.tokens import accept_token  # noqa: E402
from cascade_client.api.webhooks import create_webhook, list_webhook_deliveries  # noqa: E402
from cascade_client import models  # noqa: E402

# The README's receiver check, taken from the README itself.
readme = open("README.md").read()
exec(re.search(r"A receiver checks it in ten lines of Python:\n\n```python\n(.*?)```", readme, re.S).group(1))

api = base + "/api/v1"
anonymous = Client(base_url=api, raise_on_unexpected_status=True)


class DemoTOTP(pyotp.TOTP):
    """The demo's fixed secret is 80 bits, shorter than pyotp's default minimum for new secrets."""
    min_secret_length_bits = 80


totp = DemoTOTP("CASCADEDEMOTOTPA")
used_codes = set()


def expect(answer, *kinds):
    if not isinstance(answer.parsed, kinds):
        sys.exit(f"expected {[k.__name__ for k in kinds]}, got {answer.status_code}: {answer.content[:400]!r}")
    return answer.parsed


def fresh_code():
    """A TOTP code not used yet in this run (a code is taken once per user and step)."""
    while True:
        code = totp.now()
        if code not in used_codes:
            used_codes.add(code)
            return code
        time.sleep(1)


def session(who, second_factor=False):
    body = models.Login(email=f"{who}@cascade.demo", password="demo-password")
    if second_factor:
        body.otp = fresh_code()
    token = expect(login.sync_detailed(client=anonymous, body=body), models.Session).token
    return AuthenticatedClient(base_url=api, token=token, raise_on_unexpected_status=True)


def until(what, condition, seconds=90):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            sys.exit(f"not within {seconds} s: {what}")
        time.sleep(0.5)


# A receiver on loopback for 苏州精密部件's events (loopback receivers: development only).
received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.append((body, self.headers.get("Cascade-Signature", "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()

core, core_checker, tier1, operator = session("core"), session("core-checker"), session("tier1"), session("operator")
bank = session("bank", second_factor=True)
bank_checker = session("bank-checker", second_factor=True)
print("signed in: the core's maker and checker, the supplier, the operator; the bank's maker and checker with TOTP")

hook = expect(create_webhook.sync_detailed(client=tier1, body=models.NewWebhook(
    url=f"http://127.0.0.1:{server.server_address[1]}/hook", events=[models.NewWebhookEventsItem("*")])), models.CreateWebhookResponse201)
secret = hook.additional_properties.get("secret") or hook.secret
print(f"webhook registered: {hook.url} for {hook.events}")

orgs = {o.name: o.id for o in expect(list_orgs.sync_detailed(client=core, limit=200), models.OrgList).items}
line = expect(list_credit_lines.sync_detailed(client=core), models.CreditLineList).items[0].id
due = datetime.date.today() + datetime.timedelta(days=90)

# ¥1,200,000.00: above the core's ¥1,000,000.00, so its checker approves the issue.
held = expect(issue_receivable.sync_detailed(client=core, body=models.NewReceivable(
    supplier_id=orgs["苏州精密部件"], credit_line_id=line, face_fen=120_000_000, due_date=due)), models.Held)
issued = expect(approve_approval.sync_detailed(id=held.approval.id, client=core_checker), models.Approved)
receivable = issued.receivable
token = issued.tokens[0]
print(f"issued after the checker's approval: {receivable.number}, {receivable.face_fen} fen, due {receivable.due_date}")

accepted = expect(accept_token.sync_detailed(id=token.id, client=tier1), models.Outcome)
print(f"accepted: {accepted.tokens[0].status}")

financing = expect(request_financing.sync_detailed(client=tier1, body=models.NewFinancing(token_id=token.id, bank_id=orgs["江南商业银行"])),
                   models.Outcome).financing
today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()
approval = expect(approve_financing.sync_detailed(id=financing.id, client=bank, body=models.FinancingApproval(
    filing=models.Filing(number="0457-2026-300001", filed_on=today))), models.Held).approval
expect(approve_approval.sync_detailed(id=approval.id, client=bank_checker), models.Approved)
until("the payout", lambda: expect(get_financing.sync_detailed(id=financing.id, client=bank), models.Financing).status == models.FinancingStatus.PAID)
print("financed: the bank's checker approved, the payout arrived")

expect(move_business_clock.sync_detailed(client=operator, body=models.Clock(today=due)), models.ClockMoved)
approval = expect(settle_receivable.sync_detailed(id=receivable.id, client=core, body=models.Settle(reference="CNAPS-CLIENT-0001")), models.Held).approval
expect(approve_approval.sync_detailed(id=approval.id, client=core_checker), models.Approved)
until("the settlement", lambda: expect(get_receivable.sync_detailed(id=receivable.id, client=core), models.Receivable).status
      == models.ReceivableStatus.SETTLED)
print("settled at maturity through the core's checker and its rail")

until("the webhook deliveries", lambda: any(json.loads(b)["type"] == "confirmPayout" for b, _ in received))
for body, signature in received:
    if not verified(body, signature, secret):  # noqa: F821 (from the README)
        sys.exit(f"a delivery's signature does not verify: {signature}")
    if verified(body + b" ", signature, secret):  # noqa: F821
        sys.exit("a changed body verified")
types = [json.loads(b)["type"] for b, _ in received]
deliveries = expect(list_webhook_deliveries.sync_detailed(id=hook.id, client=tier1), models.ListWebhookDeliveriesResponse200).items
print(f"webhooks: {len(received)} deliveries, every signature verified with the README's check: {types}")
print(f"the delivery log: {[(d.event_type, d.status, d.attempts) for d in deliveries[:5]]}")
print("client walk: passed")

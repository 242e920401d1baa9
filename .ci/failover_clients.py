#!/usr/bin/env python3
"""Signed operations from several clients against a Cascade writer, until a stop file appears.

Each client registers organisations (each one a ledger transaction signed with the operator's
custodial key), one after another, each with its own Idempotency-Key. An answer of 503 is
retried with the same key after Retry-After, as a client should; a connection refused (the
writer between attempts) likewise. An operation counts as acknowledged when the writer answered
201 with its transaction id, or 409 naming the transaction the first attempt became. Every
acknowledged transaction id is written, one per line, to the output file, with the time it was
acknowledged. An operation without a final answer after two minutes is reported and fails the run.

usage: failover_clients.py BASE_URL TOKEN CLIENTS STOP_FILE OUT_FILE
"""
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
GIVE_UP_SECONDS = 120


def credit_code(n):
    """A valid unified social credit code (GB 32100) for the number n."""
    prefix = "913205" + "%011d" % n
    total = sum(ALPHABET.index(c) * w for c, w in zip(prefix, WEIGHTS))
    return prefix + ALPHABET[(31 - total % 31) % 31]


def post(base, token, path, body, key):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}"), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers


def client(number, base, token, stop_file, out, lock, stats):
    n = 0
    while not os.path.exists(stop_file):
        n += 1
        code = credit_code(number * 1_000_000 + n)
        body = {"name": "供应商 %d-%d" % (number, n), "role": "supplier", "creditCode": code}
        key = str(uuid.uuid4())
        started = time.time()
        while True:
            if time.time() - started > GIVE_UP_SECONDS:
                # An operation that gets no final answer for this long is a failure of the writer,
                # not something to wait out: report it and stop, so the run ends and says so.
                with lock:
                    stats["stuck"] += 1
                    print("client %d: Idempotency-Key %s got no final answer in %d s" % (number, key, GIVE_UP_SECONDS), file=sys.stderr)
                return
            try:
                status, answer, headers = post(base, token, "/api/v1/orgs", body, key)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                with lock:
                    stats["unreachable"] += 1
                time.sleep(0.2)
                continue
            if status == 201:
                tx = answer["transactionId"]
                break
            if status == 409 and "was committed as transaction" in answer.get("detail", ""):
                tx = re.search(r"transaction ([0-9a-f]{64})", answer["detail"]).group(1)
                break
            if status == 503:
                with lock:
                    stats["503"] += 1
                time.sleep(min(float(headers.get("Retry-After", "1")), 2.0))
                continue
            if status == 409:  # the first attempt is still being processed
                time.sleep(0.1)
                continue
            with lock:
                stats["other"] += 1
                print("client %d: unexpected %d %s" % (number, status, answer), file=sys.stderr)
            if status >= 500:
                stats["5xx"] += 1
            tx = None
            break
        if tx:
            with lock:
                out.write("%s %.3f\n" % (tx, time.time()))
                out.flush()
                stats["acknowledged"] += 1


def main():
    base, token, clients, stop_file, out_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    lock = threading.Lock()
    stats = {"acknowledged": 0, "503": 0, "unreachable": 0, "other": 0, "5xx": 0, "stuck": 0}
    with open(out_file, "w") as out:
        threads = [threading.Thread(target=client, args=(i + 1, base, token, stop_file, out, lock, stats)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("clients: %(acknowledged)d acknowledged, %(503)d answers of 503, %(unreachable)d unreachable, "
          "%(other)d other answers (%(5xx)d of them 5xx), %(stuck)d without a final answer" % stats)
    sys.exit(1 if stats["5xx"] or stats["stuck"] else 0)


if __name__ == "__main__":
    main()

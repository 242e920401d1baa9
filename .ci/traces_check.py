"""What the demo's traces and JSON logs must show after the client walk: a server span per
request named by its route, a span per block the writer committed, and the request's trace id
in the log lines written while it was served.

    python3 traces_check.py SPANS_FILE DEMO_LOG
"""
import json
import sys

spans = [json.loads(line) for line in open(sys.argv[1])]
logs = []
for line in open(sys.argv[2]):
    try:
        logs.append(json.loads(line))
    except ValueError:
        pass  # the demo's own printed lines (logins, addresses) are not log records
requests = [s for s in spans if s["name"].startswith(("GET /api/v1/", "POST /api/v1/")) and s["kind"] == 2]  # SPAN_KIND_SERVER
blocks = [s for s in spans if s["name"] == "block.commit"]
assert all(s["service"] == "cascade" for s in spans), "every span is the service cascade's"
assert any(s["name"] == "POST /api/v1/receivables" for s in requests), sorted({s["name"] for s in requests})
issue = next(s for s in requests if s["name"] == "POST /api/v1/receivables")
assert issue["attributes"].get("http.route") == "/api/v1/receivables" and issue["attributes"].get("http.response.status_code") == 202, issue
assert blocks and all(b["attributes"].get("cascade.block.transactions", 0) >= 1 for b in blocks), blocks[:3]
assert len(logs) > 10 and all({"time", "level", "label", "message"} <= set(r) for r in logs), logs[:3]
traced = {s["traceId"] for s in requests}
correlated = [r for r in logs if r.get("trace_id") in traced]
assert correlated, "no log line carries a request's trace id"
print(f"traces: {len(requests)} request spans ({len({s['name'] for s in requests})} routes), {len(blocks)} block.commit spans; "
      f"{len(logs)} JSON log lines, {len(correlated)} with a request's trace_id, e.g. {json.dumps(correlated[0], ensure_ascii=False)[:200]}")

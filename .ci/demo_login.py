"""Signing in to `cascade demo` as one of its users, for the CI drivers: the demo password, and for
the banks' users a TOTP code (RFC 6238) of the demo's secret."""
import base64, hashlib, hmac, json, struct, time, urllib.request

SECRET = "CASCADEDEMOTOTPA"


def totp(now=None):
    key = base64.b32decode(SECRET)
    h = hmac.new(key, struct.pack(">Q", int(now or time.time()) // 30), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def login(api, who, otp=False):
    """A session token of `who`@cascade.demo."""
    body = {"email": f"{who}@cascade.demo", "password": "demo-password"}
    if otp:
        body["otp"] = totp()
    req = urllib.request.Request(api + "/auth/login", method="POST", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["token"]

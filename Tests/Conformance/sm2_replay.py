#!/usr/bin/env python3
"""An independent replay of a Cascade chain in the sm2-sm3 (国密) profile, written from SPEC §4
with nothing of Cascade's code: the standard library and the pure-Python `gmssl` package (PyPI)
for SM3 and SM2.

    python3 sm2_replay.py CHAIN.jsonl [EXPECTED-STATE.json]

It checks every block and transaction of the export:
  - block 0's header names "profile": "sm2-sm3", and no other header names a profile;
  - heights follow, each prevHash is the previous block's hash, and hash = SM3(JCS(header));
  - txCount, and txRoot = the RFC 6962 tree over the transaction ids with SM3
    (leaf SM3(0x00‖id), node SM3(0x01‖l‖r), the empty tree SM3 of nothing);
  - each transaction's id = SM3(JCS(body)), no id twice, keyId = the first 16 hex digits of SM3
    of the signer's current public key, and its SM2 signature (SM3, ID 1234567812345678, DER,
    nothing after the sequence) under that key; keys follow registerOrg and rotateKey;
  - each block's SM2 signature under the operator's key as the block began (block 0: the key
    genesis registers);
  - the tokens each transaction creates: ids SM3(txId + "/" + k) cut to 32 hex digits, with their
    receivable, parent, holder, amount and tier, as SPEC §4's payload table lists the outputs.
With an expected state (cascade verify --state-out), the profile, the orgs' roles and every
token's creation facts must be the ones replayed. Token statuses and the other rules are
Cascade's own replay's to judge. Prints one line and exits 0 when all holds, 1 otherwise.
"""
import base64
import json
import sys

from gmssl import sm2, sm3, func

ZERO_HASH = "0" * 64


def h(data: bytes) -> bytes:
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def jcs(value) -> bytes:
    # RFC 8785 for what the ledger holds: objects, arrays, strings, integers, booleans (its keys
    # are ASCII, so sorting by code point is sorting by UTF-16 code unit).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def merkle_root(leaves):
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:]))


def der_to_rs(sig: bytes):
    """r and s of a strict DER SEQUENCE {INTEGER r, INTEGER s} with nothing after it."""
    if len(sig) < 8 or sig[0] != 0x30 or sig[1] != len(sig) - 2:
        raise ValueError("not one DER SEQUENCE with nothing after it")
    at, out = 2, []
    for _ in range(2):
        if sig[at] != 0x02:
            raise ValueError("not a DER INTEGER")
        n = sig[at + 1]
        value = sig[at + 2:at + 2 + n]
        if n == 0 or value[0] & 0x80 or (n > 1 and value[0] == 0 and not value[1] & 0x80):
            raise ValueError("an INTEGER that is not positive and minimal")
        out.append(int.from_bytes(value, "big"))
        at += 2 + n
    if at != len(sig):
        raise ValueError("bytes after s")
    return out


N = int("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123", 16)


def sm2_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(public_key) != 65 or public_key[0] != 4:
        return False
    try:
        r, s = der_to_rs(signature)
    except (ValueError, IndexError):
        return False
    if not (1 <= r < N and 1 <= s < N):
        return False
    verifier = sm2.CryptSM2(private_key=None, public_key="")
    # Set after construction: gmssl's constructor strips a leading "04" with str.lstrip, which also
    # eats an x coordinate's own leading 0s and 4s (one key in 256 starts "04").
    verifier.public_key = public_key[1:].hex()
    return verifier.verify_with_sm3("%064x%064x" % (r, s), message)


def key_id(public_key: bytes) -> str:
    return h(public_key).hex()[:16]


def token_id(tx_id: str, k: int) -> str:
    return h(("%s/%d" % (tx_id, k)).encode()).hex()[:32]


class Replay:
    def __init__(self):
        self.keys = {}          # org id -> current public key
        self.roles = {}         # org id -> role
        self.operator = None
        self.seen = set()
        self.tokens = {}        # token id -> creation facts
        self.offers = {}        # pending transfer output -> the token it came from
        self.financings = {}    # financing id -> token id
        self.transactions = 0

    def fail(self, where, why):
        raise SystemExit("FAILED %s: %s" % (where, why))

    def create(self, tx_id, k, receivable, parent, holder, amount, tier):
        tid = token_id(tx_id, k)
        self.tokens[tid] = {"receivableId": receivable, "parentId": parent, "holderId": holder, "amountFen": amount, "tier": tier}
        return tid

    def outputs(self, tx_id, body):
        p, t, signer = body["payload"], body["type"], body["orgId"]
        token = self.tokens.get(p.get("tokenId")) if "tokenId" in p else None
        if t == "issue":
            self.create(tx_id, 0, tx_id, None, p["supplierId"], p["faceFen"], 1)
        elif t == "transfer":
            offer = self.create(tx_id, 0, token["receivableId"], p["tokenId"], p["toOrgId"], p["amountFen"], token["tier"] + 1)
            self.offers[offer] = p["tokenId"]
            if token["amountFen"] > p["amountFen"]:
                self.create(tx_id, 1, token["receivableId"], p["tokenId"], signer, token["amountFen"] - p["amountFen"], token["tier"])
        elif t == "split":
            for k, amount in enumerate(p["amountsFen"]):
                self.create(tx_id, k, token["receivableId"], p["tokenId"], signer, amount, token["tier"])
        elif t in ("reject", "expireOffer") and p["tokenId"] in self.offers:
            sender = self.tokens[self.offers[p["tokenId"]]]["holderId"]
            self.create(tx_id, 0, token["receivableId"], p["tokenId"], sender, token["amountFen"], self.tokens[self.offers[p["tokenId"]]]["tier"])
        elif t == "requestFinancing":
            self.financings[tx_id] = p["tokenId"]
        elif t == "approveFinancing":
            financed = self.tokens[self.financings[p["financingId"]]]
            self.create(tx_id, 0, financed["receivableId"], self.financings[p["financingId"]], signer, financed["amountFen"], financed["tier"])

    def block(self, index, block):
        header = block["header"]
        if header.get("height") != index:
            self.fail("block %d" % index, "height %r" % header.get("height"))
        if index == 0 and header.get("profile") != "sm2-sm3":
            self.fail("block 0", "its header does not name the sm2-sm3 profile")
        if index > 0 and "profile" in header:
            self.fail("block %d" % index, "only block 0 names the profile")
        if header["prevHash"] != (self.last_hash if index else ZERO_HASH):
            self.fail("block %d" % index, "prevHash is not the previous block's hash")
        if h(jcs(header)).hex() != block["hash"]:
            self.fail("block %d" % index, "hash is not SM3(JCS(header))")
        txs = block["transactions"]
        if header["txCount"] != len(txs) or not txs:
            self.fail("block %d" % index, "txCount")
        if merkle_root([bytes.fromhex(tx["id"]) for tx in txs]).hex() != header["txRoot"]:
            self.fail("block %d" % index, "txRoot is not the SM3 Merkle root of its transaction ids")
        sealer = self.keys.get(self.operator) if self.operator else None
        for tx in txs:
            body, where = tx["body"], "tx %s" % tx["id"]
            if h(jcs(body)).hex() != tx["id"]:
                self.fail(where, "id is not SM3(JCS(body))")
            if tx["id"] in self.seen:
                self.fail(where, "a repeated transaction id")
            self.seen.add(tx["id"])
            p, signer = body["payload"], body["orgId"]
            genesis = self.operator is None and body["type"] == "registerOrg" and p["orgId"] == signer
            key = base64.b64decode(p["publicKey"]) if genesis else self.keys.get(signer)
            if key is None or key_id(key) != body["keyId"]:
                self.fail(where, "keyId %s is not SM3 of the signer's current key" % body["keyId"])
            if not sm2_verifies(key, base64.b64decode(tx["signature"]), jcs(body)):
                self.fail(where, "signature invalid")
            if body["type"] == "registerOrg":
                self.keys[p["orgId"]] = base64.b64decode(p["publicKey"])
                self.roles[p["orgId"]] = p["role"]
                if self.operator is None:
                    self.operator = p["orgId"]
                    sealer = sealer or self.keys[p["orgId"]]
            elif body["type"] == "rotateKey":
                self.keys[p["orgId"]] = base64.b64decode(p["publicKey"])
            self.outputs(tx["id"], body)
            self.transactions += 1
        if not sm2_verifies(sealer or b"", base64.b64decode(block["signature"]), jcs(header)):
            self.fail("block %d" % index, "sealer signature invalid")
        self.last_hash = block["hash"]


def main():
    chain = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
    replay = Replay()
    for index, block in enumerate(chain):
        replay.block(index, block)
    if len(sys.argv) > 2:
        expected = json.load(open(sys.argv[2], encoding="utf-8"))
        if expected.get("profile") != "sm2-sm3":
            replay.fail("state", "the expected state's profile is %r" % expected.get("profile"))
        for org, facts in expected["orgs"].items():
            if replay.roles.get(org) != facts["role"]:
                replay.fail("state", "org %s is %r here, %r there" % (org, replay.roles.get(org), facts["role"]))
        if set(expected["tokens"]) != set(replay.tokens):
            replay.fail("state", "%d tokens here, %d there" % (len(replay.tokens), len(expected["tokens"])))
        for tid, facts in replay.tokens.items():
            theirs = {k: expected["tokens"][tid][k] for k in facts}
            if theirs != facts:
                replay.fail("state", "token %s: %r here, %r there" % (tid, facts, theirs))
    print("OK %d blocks, %d transactions, %d tokens: SM3 ids, hashes and Merkle roots, SM2 signatures and token ids all hold"
          % (len(chain), replay.transactions, len(replay.tokens)))


if __name__ == "__main__":
    main()

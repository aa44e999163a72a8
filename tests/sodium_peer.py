#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""sodium_peer.py HOST:PORT RESPONDER_PUB KEYFILE RESPONDER_KEYFILE TEXT:
an independent initiator of nbmq's `sodium` handshake (tests/int_crypt.sh).

Written from the handshake as daemon/crypt_sodium.c's opening comment and
docs/PROTOCOL.md 4.2 describe it, with Python's own BLAKE2b (hashlib) and
libsodium through ctypes for X25519 and ChaCha20-Poly1305-IETF only: a
second implementation, so that a change in the daemon's handshake, key
schedule, nonce or associated data that its own two ends would agree on
still fails here.  Against nbmqd's encrypted bound socket at HOST:PORT
(static public key RESPONDER_PUB, base64), as the static key in KEYFILE
(base64 private key, listed in the socket's peers):

 1. the Connect (124 bytes: E_i, AEAD(S_i), AEAD(timestamp), mac1); the
    Connected (48 bytes) must verify and give the session keys;
 2. a sealed Heartbeat, then a sealed data frame carrying TEXT: the
    application attached to the socket receives it (the test checks);
 3. the frames the daemon sends back must open with the receive key, and
    one of them must be a data frame carrying TEXT (the test's application
    echoes it);
 4. forward secrecy: an attacker who recorded all of it and later stole
    both static private keys (KEYFILE and RESPONDER_KEYFILE) computes
    every Diffie-Hellman result those keys give (es, ss, se) and tries
    the key schedule with each in place of the ephemeral-ephemeral one,
    or without it: no recorded frame opens either way.  With the real
    ephemeral key (the control) the same code opens them, so the attack
    misses only the secret forward secrecy rests on.

Prints one line and exits 0 when all of it holds; 1 with the reason.
"""

import base64
import ctypes
import ctypes.util
import hashlib
import os
import socket
import struct
import sys
import time

NAME = b"nbmq sodium v1: IK X25519 ChaChaPoly BLAKE2b"
DEADLINE = 10.0

so = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
if so.sodium_init() < 0:
    raise SystemExit("sodium_init failed")


def x25519(priv, pub):
    out = ctypes.create_string_buffer(32)
    if so.crypto_scalarmult(out, priv, pub) != 0:
        raise ValueError("low-order point")
    return out.raw


def x25519_base(priv):
    out = ctypes.create_string_buffer(32)
    so.crypto_scalarmult_base(out, priv)
    return out.raw


def aead_enc(key, n, m, ad):
    """ChaCha20-Poly1305-IETF; nonce: 4 zero bytes, n little-endian."""
    nonce = b"\0" * 4 + struct.pack("<Q", n)
    c = ctypes.create_string_buffer(len(m) + 16)
    clen = ctypes.c_ulonglong()
    so.crypto_aead_chacha20poly1305_ietf_encrypt(
        c, ctypes.byref(clen), m, ctypes.c_ulonglong(len(m)), ad,
        ctypes.c_ulonglong(len(ad)), None, nonce, key)
    return c.raw[:clen.value]


def aead_dec(key, n, c, ad):
    nonce = b"\0" * 4 + struct.pack("<Q", n)
    m = ctypes.create_string_buffer(max(len(c) - 16, 1))
    mlen = ctypes.c_ulonglong()
    r = so.crypto_aead_chacha20poly1305_ietf_decrypt(
        m, ctypes.byref(mlen), None, c, ctypes.c_ulonglong(len(c)), ad,
        ctypes.c_ulonglong(len(ad)), nonce, key)
    return None if r != 0 else m.raw[:mlen.value]


def H(*parts, key=b"", size=32):
    return hashlib.blake2b(b"".join(parts), digest_size=size, key=key).digest()


class Chain:
    """Noise's symmetric state: h the transcript hash, ck the chaining key."""

    def __init__(self, rs, hdr):
        self.ck = H(NAME)
        self.h = H(self.ck, rs)
        self.h = H(self.h, hdr)
        self.k = None

    def mix_hash(self, d):
        self.h = H(self.h, d)

    def mix_key(self, dh):
        t = H(dh, key=self.ck, size=64)
        self.ck, self.k = t[:32], t[32:]

    def enc(self, m):
        c = aead_enc(self.k, 0, m, self.h)
        self.mix_hash(c)
        return c

    def dec(self, c):
        m = aead_dec(self.k, 0, c, self.h)
        if m is not None:
            self.mix_hash(c)
        return m

    def split(self):
        t = H(b"", key=self.ck, size=64)
        return t[:32], t[32:]       # initiator -> responder, and back


def hdr(kind, session):
    return struct.pack(">BBQ", 1, kind, session)


def seal(key, n, plain):
    """A plain frame sealed: clear header (kind | 0x80) | n | body | tag."""
    h = bytes([plain[0], plain[1] | 0x80]) + plain[2:10]
    return h + struct.pack(">Q", n) + aead_enc(key, n, plain[10:], h)


def unseal(key, frame):
    if len(frame) < 34 or not frame[1] & 0x80:
        return None
    n = struct.unpack(">Q", frame[10:18])[0]
    body = aead_dec(key, n, frame[18:], frame[:10])
    if body is None:
        return None
    return bytes([frame[0], frame[1] & 0x7f]) + frame[2:10] + body


def data_frame(session, mid, text):
    """One single-part message in one v0.2.0 data frame (PROTOCOL.md 1)."""
    return (struct.pack(">BBQQBBIIHI", 1, 0, session, mid, 1, 0, len(text),
                        len(text), len(text), 0) + text)


def key_file(path):
    return base64.b64decode(open(path).read().strip())


def fail(why):
    print(why)
    sys.exit(1)


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    to = (host, int(port))
    S_r = base64.b64decode(sys.argv[2])
    s_i = key_file(sys.argv[3])
    s_r = key_file(sys.argv[4])
    text = sys.argv[5].encode()
    S_i = x25519_base(s_i)
    if x25519_base(s_r) != S_r:
        fail("RESPONDER_KEYFILE is not RESPONDER_PUB's private key")

    # 1. Connect: E_i, AEAD(S_i), AEAD(ts), mac1.
    h1 = hdr(0x81, 0)
    ch = Chain(S_r, h1)
    e_i = os.urandom(32)
    E_i = x25519_base(e_i)
    ch.mix_hash(E_i)
    ch.mix_key(x25519(e_i, S_r))
    c_s = ch.enc(S_i)
    ch.mix_key(x25519(s_i, S_r))
    t = time.time_ns()
    c_ts = ch.enc(struct.pack(">QI", t // 10**9, t % 10**9))
    body = E_i + c_s + c_ts
    mac1 = H(h1, body, key=H(b"mac1----", S_r), size=16)
    connect = h1 + body + mac1
    if len(connect) != 10 + 124:
        fail("Connect of %d bytes" % len(connect))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(DEADLINE)
    u.sendto(connect, to)
    while True:
        b, _ = u.recvfrom(4096)
        if b[1] == 0x82:
            break
        if b[1] & 0x7f == 3:
            fail("refused: %s" % b.hex())
    if len(b) != 10 + 48:
        fail("Connected of %d bytes, want 58" % len(b))
    session = struct.unpack(">Q", b[2:10])[0]
    ch.mix_hash(b[:10])
    E_r = b[10:42]
    ch.mix_hash(E_r)
    ch.mix_key(x25519(e_i, E_r))            # ee
    ch.mix_key(x25519(s_i, E_r))            # se
    if ch.dec(b[42:58]) != b"":
        fail("the Connected does not verify")
    k_ir, k_ri = ch.split()
    recorded = [connect, b]

    # 2. A sealed Heartbeat (the initiator proves itself), then TEXT.
    n = 0
    for plain in (hdr(4, session), data_frame(session, 1, text)):
        f = seal(k_ir, n, plain)
        n += 1
        u.sendto(f, to)
        recorded.append(f)

    # 3. What comes back opens; TEXT reversed among it.
    want = text
    end = time.monotonic() + DEADLINE
    got = opened = 0
    kinds = []
    while not got:
        u.settimeout(max(0.05, end - time.monotonic()))
        try:
            f, _ = u.recvfrom(4096)
        except socket.timeout:
            fail("no answer carrying %r (%d frames opened, kinds %s)" %
                 (want, opened, kinds))
        recorded.append(f)
        p = unseal(k_ri, f)
        if p is None:
            fail("a frame from the daemon does not open: %s" % f[:40].hex())
        opened += 1
        kinds.append(p[1])
        if p[1] == 0 and p[34:] == want:
            got = 1
        elif p[1] == 4:
            u.sendto(seal(k_ir, n, hdr(4, session)), to)  # keep it alive
            n += 1
    u.sendto(seal(k_ir, n, hdr(3, session)), to)  # Disconnected

    # 4. The attacker: both static keys, the recording, no ephemeral key.
    def keys(ee):
        a = Chain(S_r, h1)
        a.mix_hash(E_i)
        a.mix_key(x25519(s_r, E_i))        # es, from the responder's side
        a.mix_hash(c_s)
        a.mix_key(x25519(s_r, S_i))        # ss
        a.mix_hash(c_ts)
        a.mix_hash(recorded[1][:10])
        a.mix_hash(E_r)
        if ee is not None:
            a.mix_key(ee)
        a.mix_key(x25519(s_i, E_r))        # se
        return a.split()

    def opens(kk):
        return any(unseal(kk[0], f) or unseal(kk[1], f) for f in recorded[2:])

    if not opens(keys(x25519(e_i, E_r))):
        fail("control: the real ephemeral key does not open the recording")
    guesses = [None, x25519(s_r, E_i), x25519(s_r, S_i), x25519(s_i, E_r),
               b"\0" * 32]
    for g in guesses:
        if opens(keys(g)):
            fail("forward secrecy broken: the static keys open recorded "
                 "frames (guess %s)" % (g.hex() if g else "no ee"))
    print("independent initiator: Connect 124 bytes, Connected verified, "
          "%d sealed frames sent, %d opened; with both static keys and the "
          "recording, %d key schedules open nothing (the real ephemeral "
          "key does)" % (n + 1, opened, len(guesses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Seeds for devices/gpu Gpu3dCommandFuzzTest: python3 gpu3d_seeds.py <inputs directory>
import os, struct, sys
sys.path.insert(0, os.path.dirname(__file__))
from fdp import Enc
out = sys.argv[1]
COMMANDS = [0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, 0x108, 0x109, 0x102, 0x104, 0x103, 0x101,
            0x106, 0x107, 0x105]
FENCE = 1

def hdr(t, ctx=1, fence=None, ring=None):
    flags = (FENCE if fence is not None else 0) | (2 if ring is not None else 0)
    return struct.pack('<IIQIBBBB', t, flags, fence or 0, ctx, ring or 0, 0, 0, 0)

def req(e, body, writable=24, serve=True, split=1):
    """body as sent; the harness keeps its type (a raw request: consumeInt(0, 7) == 0)."""
    e.int_(len(body), 0, 200).bytes_(body)
    if len(body) >= 24:
        e.int_(0, 0, 7)
    e.bool_(False).int_(writable, 0, 4200)
    e.int_(split, 1, 4)
    e.int_(1, 0, 4)
    at = 0
    for i in range(split - 1):
        n = min(16, len(body) - at); e.int_(n, 0, len(body) - at); at += n
    e.int_(writable, 0, writable)
    e.int_(1 if serve else 0, 0, 3)

def box(x, y, z, w, h, d): return struct.pack('<6I', x, y, z, w, h, d)
def transfer(t, res, w, h, ctx=1, fence=None, offset=0, stride=256):
    return hdr(t, ctx, fence) + box(0, 0, 0, w, h, 1) + struct.pack('<QIIII', offset, res, 0, stride, 0)
def create3d(res, target, fmt, bind, w, h, d, array=1, levels=0, samples=0):
    return hdr(0x204, 0) + struct.pack('<13I', res, target, fmt, bind, w, h, d, array, levels, samples, 0, 0, 0)[:48]
def ctxcreate(ctx, name=b'seed', init=0, fence=None, ring=None):
    return hdr(0x200, ctx, fence, ring) + struct.pack('<II', len(name), init) + name.ljust(64, b'\0')
def ctxres(t, ctx, res): return hdr(t, ctx) + struct.pack('<II', res, 0)
def submit(ctx, stream, fence=None, size=None):
    return hdr(0x207, ctx, fence) + struct.pack('<II', len(stream) if size is None else size, 0) + stream
def capset_info(i): return hdr(0x108, 0) + struct.pack('<II', i, 0)
def capset(cid, version): return hdr(0x109, 0) + struct.pack('<II', cid, version)

seeds = {}
e = Enc(); req(e, capset_info(0), 40); req(e, capset_info(1), 40); req(e, capset_info(2), 40); seeds['capset-info'] = e
e = Enc(); req(e, capset(2, 2), 4200); req(e, capset(1, 1), 4200); req(e, capset(2, 3), 4200); req(e, capset(2, 2), 100)
seeds['capsets'] = e
e = Enc(); req(e, transfer(0x206, 1, 64, 32, fence=7)); req(e, transfer(0x205, 1, 64, 32, fence=8)); seeds['transfers-fenced'] = e
e = Enc(); req(e, transfer(0x206, 1, 65, 32)); req(e, transfer(0x206, 1, 64, 32, offset=1 << 40)); req(e, transfer(0x205, 1, 8, 8, stride=0))
req(e, transfer(0x206, 2, 16, 16)); req(e, transfer(0x206, 9, 16, 16)); seeds['transfers-out-of-bounds'] = e
e = Enc(); req(e, submit(1, bytes(64), fence=9)); req(e, submit(1, bytes(16), size=4096)); req(e, submit(2, bytes(8))); seeds['submit-nops'] = e
e = Enc(); req(e, submit(1, struct.pack('<4I', 0x00040001, 1, 2, 3) + bytes(16), fence=10)); req(e, submit(1, b'\xff' * 40)); seeds['submit-garbage'] = e
e = Enc(); req(e, ctxcreate(2)); req(e, create3d(3, 2, 2, 2, 32, 32, 1)); req(e, ctxres(0x202, 2, 3)); req(e, transfer(0x205, 3, 32, 32, ctx=2, stride=128))
req(e, ctxres(0x203, 2, 3)); req(e, ctxres(0x201, 2, 0)); req(e, hdr(0x102, 0) + struct.pack('<II', 3, 0)); seeds['second-context'] = e
e = Enc(); req(e, create3d(4, 0, 0, 0x10, 4096, 1, 1)); req(e, create3d(5, 3, 2, 2, 64, 64, 64)); req(e, create3d(6, 2, 2, 2, 16384, 16384, 1))
req(e, create3d(7, 9, 2, 2, 1, 1, 1)); req(e, create3d(1, 2, 2, 2, 8, 8, 1)); seeds['create-3d-shapes'] = e
e = Enc(); req(e, ctxcreate(1)); req(e, ctxres(0x202, 1, 2)); req(e, ctxres(0x202, 7, 1)); req(e, ctxres(0x201, 1, 0)); req(e, submit(1, bytes(8)))
seeds['context-misuse'] = e
e = Enc(); req(e, transfer(0x206, 1, 64, 32, fence=11), serve=False); req(e, submit(1, bytes(32), fence=12), serve=False, split=3); req(e, capset(2, 2), 4200)
seeds['batched'] = e
e = Enc(); req(e, hdr(0x207, 1, 13, ring=0) + struct.pack('<II', 8, 0) + bytes(8)); req(e, hdr(0x207, 1, 14, ring=1) + struct.pack('<II', 8, 0) + bytes(8))
req(e, hdr(0x201, 1, 15, ring=0) + bytes(8)); seeds['ring-fences'] = e
# CONTEXT_INIT (gpu3d-commands negotiates it): a Venus context (capset 4) fencing on several rings, a GL context on
# ring 0 and a refused ring 1, and a context destroyed while its ring fences wait.
def ring_submit(ctx, fence, ring, n=8): return hdr(0x207, ctx, fence, ring) + struct.pack('<II', n, 0) + bytes(n)
e = Enc(); req(e, ctxcreate(3, init=4)); req(e, ring_submit(3, 20, 0), serve=False); req(e, ring_submit(3, 21, 5), serve=False)
req(e, ring_submit(3, 22, 0), serve=False); req(e, ring_submit(3, 23, 63), serve=False); req(e, ring_submit(3, 24, 64))
req(e, ring_submit(1, 25, 0), serve=False); req(e, ring_submit(1, 26, 1)); req(e, capset_info(2), 40); seeds['venus-rings'] = e
e = Enc(); req(e, ctxcreate(4, init=4)); req(e, ring_submit(4, 30, 2), serve=False); req(e, ring_submit(4, 31, 2), serve=False)
req(e, hdr(0x201, 4, 32, ring=2), serve=False); req(e, ctxcreate(4, init=2, fence=33, ring=0)); req(e, ring_submit(4, 34, 1))
seeds['ring-fences-context-destroyed'] = e
for k, v in seeds.items():
    open(os.path.join(out, k), 'wb').write(v.data())
print(len(seeds))

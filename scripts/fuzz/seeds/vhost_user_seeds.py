# Seed inputs for VhostUserBackendFuzzTest whose regions are mapped and then released every way a back-end releases
# them: a memory table replaced (with a worker running on it), REM_MEM_REG, and the connection's end. Random fuzzing
# rarely maps a whole foreign or grant region (the right flags, domain, offset, page count and privcmd or gntdev
# descriptor at once), and the committed corpus, trimmed by size, kept none.
# Usage: python3 vhost_user_seeds.py <inputs directory> (writes seed-* files there).
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from fdp import Enc
out = sys.argv[1]
RAM = 64 * 1024
PAGE = 4096
# xenMessage's XEN_FLAGS indexes, the kinds of descriptors() and message()'s ring requests.
UNIX, FOREIGN, GRANT, GRANT_ON_ACCESS = 0, 1, 2, 3
RAM_FD, EVENTFD, DEV_NULL, PRIVCMD, GNTDEV = 0, 1, 2, 3, 4
NUM, ADDR, BASE, KICK, ENABLE = 0, 1, 2, 3, 4

def flags(e):
    e.bool_(True).int_(1, 0, 1)                 # version 1 | NEED_REPLY

def fds(e, kinds, xen, memory=False, mem_table=False):
    if memory:
        e.bool_(True)                            # descriptors for the regions
        if mem_table and xen: e.int_(len(kinds), 1, 2)
        else: assert len(kinds) == 1
    else:
        e.int_(len(kinds), 0, 3)
    for k in kinds: e.int_(k, 0, 4 if xen else 2)

def mem_table(e, xen, size=RAM, offset=0):
    """message() case 0: SET_MEM_TABLE, one plain region at gpa 0 from the RAM memfd."""
    if xen: e.int_(3, 0, 3)
    flags(e); e.int_(0, 0, 4)
    e.bool_(True)                                # gpa 0
    if size == RAM: e.bool_(True)
    else: e.bool_(False).int_(size, 0, 2 * RAM)
    if offset == 0: e.bool_(True)
    else: e.bool_(False).int_(offset, 0, 2 * RAM)
    fds(e, [RAM_FD], xen, memory=True, mem_table=True)

def ring(e, xen, what, queue=0, value=0, addrs=None, kinds=()):
    """message() case 1: SET_VRING_NUM/ADDR/BASE/KICK/ENABLE; addrs are offsets from UADDR."""
    if xen: e.int_(3, 0, 3)
    flags(e); e.int_(1, 0, 4); e.int_(queue, 0, 2); e.int_(what, 0, 4)
    if what == ADDR:
        e.int_(0, 0, 1)
        for a in addrs: e.int_(a, 0, RAM)
    else:
        e.int_(value, 0, 256)
    fds(e, list(kinds), xen)

def start_ring(e, xen, desc, avail, used):
    ring(e, xen, NUM, value=16); ring(e, xen, BASE, value=0); ring(e, xen, ADDR, addrs=(desc, avail, used))
    ring(e, xen, KICK, value=0, kinds=[EVENTFD]); ring(e, xen, ENABLE, value=1)

def region(e, kind, page=0, ref=None, pages=16):
    """One 40-byte entry of xenMessage: valid flags, offset 0, domid 9 (0 for a plain region)."""
    e.bool_(True).int_(kind, 0, 4)
    if ref is None: e.int_(0, 0, 2).int_(page, 0, RAM // PAGE)        # RAM_GPA + page * 4096
    else: e.int_(1, 0, 2).int_(ref, 0, RAM // PAGE)                   # GRANT | ref << 12
    e.bool_(True).int_(pages, 1, RAM // PAGE)
    e.bool_(True)                                                     # mmap_offset 0
    if kind == UNIX: e.bool_(False); e.back += bytes(4)                # consumeInt(): 0
    else: e.bool_(True)

def xen_table(e, regions, kinds):
    e.int_(0, 0, 3); flags(e); e.int_(len(regions), 1, 2)
    for r in regions: region(e, *r[:1], **r[1])
    fds(e, kinds, True, memory=True, mem_table=True)

def xen_add(e, r, kind):
    e.int_(1, 0, 3); flags(e); region(e, r[0], **r[1]); fds(e, [kind], True, memory=True)

def xen_rem(e, r):
    e.int_(2, 0, 3); flags(e); region(e, r[0], **r[1]); fds(e, [], True)

seeds = {}
# Plain regions: a table replaced twice while a worker runs a ring in it (the old one released when the worker lets go
# of it), the last one released as the connection ends.
e = Enc().bool_(False)
mem_table(e, False); start_ring(e, False, 0, 0x1000, 0x2000)
mem_table(e, False); mem_table(e, False, size=0x8000, offset=0x8000)
seeds['seed-plain-regions-released'] = e
# Xen: foreign and grant regions replaced by a table of two grant regions, one removed (REM_MEM_REG), a plain region
# added in its place, the rest released as the connection ends.
e = Enc().bool_(True)
xen_table(e, [(FOREIGN, dict(page=0, pages=4)), (GRANT, dict(ref=4, pages=4))], [PRIVCMD, GNTDEV])
g0, g1 = (GRANT, dict(ref=0, pages=4)), (GRANT, dict(ref=8, pages=8))
xen_table(e, [g0, g1], [GNTDEV, GNTDEV])
xen_rem(e, g0)
xen_add(e, (UNIX, dict(page=0, pages=16)), RAM_FD)
seeds['seed-xen-regions-released'] = e
# Xen: a ring in a whole grant region, its table replaced while the worker runs (a foreign region then), then ended.
e = Enc().bool_(True)
xen_table(e, [(GRANT, dict(ref=0, pages=16))], [GNTDEV])
start_ring(e, True, 0, 0x1000, 0x2000)
xen_table(e, [(FOREIGN, dict(page=0, pages=16))], [PRIVCMD])
seeds['seed-xen-ring-in-grant-region'] = e
for name, e in seeds.items():
    with open(os.path.join(out, name), 'wb') as f: f.write(e.data())

# Writes seed inputs for FuzzedDataProvider harnesses: ints, booleans and longs are taken from the end of the
# input (big-endian, modulo the range, as LLVM's and Jazzer's FuzzedDataProvider do), byte arrays from the front.
# A ranged value (int_) is min plus the raw number; a full-range one (int32, long_, short: consumeInt() and the like)
# is the raw bytes as two's complement, so 0 is 0 (Jazzer's ConsumeIntegral casts the unsigned value, not min + raw).
# Usage: see scsi_seeds.py, vsock_seeds.py (python3 <script> <inputs directory>).
class Enc:
    def __init__(s): s.front=bytearray(); s.back=bytearray()
    def int_(s, v, lo, hi):
        rng = hi - lo; r = v - lo; assert 0 <= r <= rng
        k = 0; off = 0
        while off < 32 and (rng >> off) > 0: k += 1; off += 8
        for i in range(k-1, -1, -1): s.back.append((r >> (8*i)) & 0xFF)
        return s
    def int32(s, v):
        v &= 0xFFFFFFFF
        for i in range(3, -1, -1): s.back.append((v >> (8*i)) & 0xFF)
        return s
    def long_(s, v):
        v &= (1<<64)-1
        for i in range(7, -1, -1): s.back.append((v >> (8*i)) & 0xFF)
        return s
    def short(s, v):
        v &= 0xFFFF
        for i in range(1, -1, -1): s.back.append((v >> (8*i)) & 0xFF)
        return s
    def bool_(s, b): s.back.append(1 if b else 0); return s
    def bytes_(s, b): s.front += bytes(b); return s
    def data(s): return bytes(s.front) + bytes(reversed(s.back))

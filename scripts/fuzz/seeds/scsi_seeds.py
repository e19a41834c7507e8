import sys, struct
sys.path.insert(0, __import__('os').path.dirname(__file__))
from fdp import Enc
out=sys.argv[1]
def hdr(lun, cdb):
    h=bytearray(51); h[0]=1; h[1]=0; h[2]=0x40; h[3]=lun
    h[19:19+len(cdb)]=cdb; return bytes(h)
def req(e, lun, cdb, dataout=b'', writable=2048, drain=True, luns=2, split=1):
    r=hdr(lun,cdb)+dataout
    e.int_(1,0,5)                       # request queue
    e.int_(len(r),0,1200).bytes_(r)
    e.bool_(False)                      # keep LUN bytes as written
    e.bool_(False)                      # keep CDB
    e.bool_(False).int_(2048,0,2048)    # buffers of up to 2048 bytes
    e.int_(split,1,4)                   # readable buffers
    data=writable-108
    e.int_(2 if data>0 else 1,0,4)      # response header buffer, then data-in
    at=0
    for i in range(split-1):
        n=min(20,len(r)-at); e.int_(n,0,len(r)-at); at+=n
    e.int_(108,0,2048)
    if data>0: e.int_(data,0,2048)
    e.int_(0 if drain else 1,0,3)
def ctl(e, body, writable=8, drain=True):
    e.int_(0,0,5)
    e.int_(len(body),0,32).bytes_(body)
    if len(body)>=4: e.bool_(False)
    e.int_(1,1,4); e.int_(1,0,4); e.int_(writable,0,8)
    e.int_(0 if drain else 1,0,3)
def start(ro=False):
    e=Enc(); e.int_(0 if ro else 1,0,3); return e
def cdb10(op,lba,n,b1=0): return struct.pack('>BBIBHB',op,b1,lba,0,n,0)
def cdb16(op,lba,n,b1=0): return struct.pack('>BBQIBB',op,b1,lba,n,0,0)
seeds={}
e=start(); req(e,0,bytes([0x12,0,0,0,96,0]),writable=108+96); seeds['inquiry']=e
for page in (0,0x80,0x83,0xb0,0xb1,0xb2):
    e=start(); req(e,0,bytes([0x12,1,page,0,255,0]),writable=108+255); seeds['vpd-%02x'%page]=e
e=start(); req(e,0,bytes([0x25,0,0,0,0,0,0,0,0,0]),writable=108+8); seeds['read-capacity-10']=e
e=start(); req(e,1,bytes([0x9e,0x10])+bytes(8)+struct.pack('>I',32)+bytes(2),writable=108+32); seeds['read-capacity-16']=e
e=start(); req(e,0,cdb10(0x28,3,2),writable=108+1024,split=3); seeds['read-10']=e
e=start(); req(e,1,cdb16(0x88,60,4),writable=108+2048); seeds['read-16-to-the-end']=e
e=start(); req(e,0,cdb16(0x88,62,4),writable=108+2048); seeds['read-16-past-the-end']=e
e=start(); req(e,0,bytes([0x08,0,0,5,1,0]),writable=108+512); seeds['read-6']=e
e=start(); req(e,0,cdb10(0x2a,1,1),dataout=bytes(range(256))*2,writable=108); req(e,0,cdb10(0x28,1,1),writable=108+512); seeds['write-then-read']=e
e=start(True); req(e,0,cdb10(0x2a,1,1),dataout=bytes(100),writable=108,luns=1); seeds['write-read-only']=e
e=start(); req(e,0,cdb16(0x8a,7,1,0x08),dataout=bytes(100),writable=108); seeds['write-16-fua-short-data']=e
e=start(); req(e,0,cdb16(0x93,4,3),dataout=bytes([0xab])*512,writable=108); seeds['write-same-16']=e
e=start(); req(e,0,cdb16(0x93,4,3,0x08),dataout=bytes(512),writable=108); seeds['write-same-16-unmap']=e
um=struct.pack('>HH4x',22,16)+struct.pack('>QI4x',2,5)
e=start(); req(e,0,bytes([0x42,0,0,0,0,0,0])+struct.pack('>H',len(um))+bytes([0]),dataout=um,writable=108); seeds['unmap']=e
e=start(); req(e,0,bytes([0xa0,0,0,0,0,0])+struct.pack('>I',64)+bytes(2),writable=108+64); seeds['report-luns']=e
e=start(); req(e,0,bytes([0x1a,0,0x3f,0,255,0]),writable=108+255); seeds['mode-sense-6']=e
e=start(); req(e,0,bytes([0x5a,0,0x08,0,0,0,0,1,0,0]),writable=108+256); seeds['mode-sense-10-caching']=e
e=start(); req(e,0,cdb10(0x35,0,0),writable=108); seeds['synchronize-cache']=e
e=start(); req(e,0,bytes([0x03,0,0,0,18,0]),writable=108+18); seeds['request-sense']=e
e=start(); req(e,5,bytes([0x12,0,0,0,96,0]),writable=108+96); req(e,5,bytes([0x00]*6),writable=108); seeds['absent-lun']=e
e=start(); req(e,0,bytes([0xff]*16),writable=108); seeds['unknown-opcode']=e
tmf=struct.pack('<II',0,0)+bytes([1,0,0x40,0,0,0,0,0])+struct.pack('<Q',7)
e=start(); req(e,0,cdb10(0x28,0,64),writable=108+2048,drain=False); ctl(e,tmf,1,drain=False); req(e,0,cdb10(0x2a,8,1),dataout=bytes(512),writable=108,drain=False); ctl(e,struct.pack('<I',1)+bytes([1,0,0x40,1,0,0,0,0])+struct.pack('<I',0),5); seeds['tmf-while-in-flight']=e
for k,v in seeds.items(): open(f'{out}/{k}','wb').write(v.data())
print(len(seeds))

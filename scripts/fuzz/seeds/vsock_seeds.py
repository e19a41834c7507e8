import sys, struct
sys.path.insert(0, __import__('os').path.dirname(__file__))
from fdp import Enc
out=sys.argv[1]
REQ,RESP,RST,SHUT,RW,CUPD,CREQ=1,2,3,4,5,6,7
def tx(e, op, gport=0, hport=0, payload=b'', flags=0, buf=None, fwd=0, split=1):
    e.act(0)
    e.int_(len(payload),0,96).bytes_(payload)
    e.int_(1,0,15)          # not raw
    e.int_(1,0,7)           # right length
    e.int_(op,0,8)
    e.int_(gport,0,1); e.int_(hport,0,3)
    e.int_(flags,0,3)
    if buf is None: e.bool_(True)
    else: e.bool_(False).int32(buf)
    if fwd==0: e.bool_(True)
    else: e.bool_(False).int32(fwd)
    n=44+len(payload)
    e.int_(split,1,4); e.int_(0,0,4)
    at=0
    for i in range(split-1):
        k=min(20,n-at); e.int_(k,0,n-at); at+=k
def rx(e, size=108, count=1):
    for _ in range(count):
        e.act(4); e.bool_(size==108)
        if size!=108: e.int_(size,0,512)
        e.int_(1,0,4); e.int_(size,0,size)
def event(e): e.act(5); e.int_(1,0,4); e.int_(4,0,8)
def accept(e): e.act(6)
def host(e, idx, n, what, data=b''):
    e.act(7); e.int_(idx,0,n-1); e.int_(what,0,3)
    if what>=2: e.int_(len(data),0,256).bytes_(data)
def client(e, gport=0, line=None):
    e.act(8)
    if line is None: e.bool_(True).int_(gport,0,1)
    else: e.bool_(False).int_(len(line),0,40).bytes_(line)
def reset(e): e.act(9)
def start(buf=4096):
    e=Enc(); e.act=lambda a: e.int_(a,0,9); e.int_(buf,1,4096); return e
seeds={}
e=start(); tx(e,REQ,0,0); accept(e); rx(e,count=2); tx(e,RW,0,0,b'hello host'); host(e,0,1,1); host(e,0,1,2,b'hello guest'); rx(e,200,count=2)
tx(e,CREQ,0,0); rx(e); tx(e,CUPD,0,0,fwd=11); tx(e,SHUT,0,0,flags=3); rx(e,count=2); tx(e,RST,0,0); rx(e); event(e); seeds['guest-connects-talks-and-closes']=e
e=start(); tx(e,REQ,1,2); rx(e); tx(e,RW,1,2,b'x'); rx(e); seeds['no-listener']=e
e=start(16); tx(e,REQ,0,1); accept(e); rx(e); tx(e,RW,0,1,b'A'*40); rx(e,count=2); host(e,0,1,1); seeds['past-the-credit']=e
e=start(); client(e,1); rx(e,count=2); tx(e,RESP,1,3,buf=8192); rx(e); tx(e,RW,1,3,b'to the host client'); rx(e); seeds['host-connects']=e
e=start(); client(e,line=b'CONNECT 99999999999\n'); client(e,line=b'garbage'); rx(e); seeds['host-garbage']=e
e=start(); tx(e,REQ,0,0); accept(e); host(e,0,1,2,b'data before the answer'); host(e,0,1,0); rx(e,count=3); tx(e,RW,0,0,b'late'); rx(e); event(e); reset(e); event(e); rx(e); seeds['host-closes-then-reset']=e
e=start(); tx(e,RESP,0,0); tx(e,RW,0,1,b'stray'); tx(e,SHUT,1,2); tx(e,8,0,0); tx(e,0,1,0); rx(e,count=4); seeds['stray-packets']=e
e=start(); tx(e,REQ,0,0); tx(e,REQ,0,0); accept(e); rx(e,44,count=2); rx(e,0); rx(e,45); seeds['request-twice-small-buffers']=e
e=start(); tx(e,REQ,0,0,split=3); accept(e); rx(e); tx(e,RW,0,0,bytes(range(90)),split=4); host(e,0,1,1); seeds['split-buffers']=e
for k,v in seeds.items(): open(f'{out}/{k}','wb').write(v.data())
print(len(seeds))

# The worked examples of test/results/stats.test.ts, computed independently with SciPy: python3 test/results/worked-examples.py
import numpy as np
from scipy import stats, integrate
z=stats.norm.ppf(0.975)
def prop(x1,n1,x0,n0):
    p1,p0=x1/n1,x0/n0; d=p1-p0
    se=np.sqrt(p1*(1-p1)/n1+p0*(1-p0)/n0)
    pp=(x1+x0)/(n1+n0); se0=np.sqrt(pp*(1-pp)*(1/n1+1/n0))
    pv=2*stats.norm.sf(abs(d)/se0)
    rr=p1/p0; sl=np.sqrt(1/x1-1/n1+1/x0-1/n0)
    print(f"prop {x1},{n1},{x0},{n0}: diff={d:.10f} ci=({d-z*se:.10f},{d+z*se:.10f}) rel={rr-1:.10f} relci=({np.exp(np.log(rr)-z*sl)-1:.10f},{np.exp(np.log(rr)+z*sl)-1:.10f}) p={pv:.10g}")
prop(120,1000,90,1000); prop(45,500,30,520); prop(30,2000,32,2000)
def welch(a,b):
    a=np.array(a,float); b=np.array(b,float)
    va,vb=a.var(ddof=1)/len(a),b.var(ddof=1)/len(b)
    df=(va+vb)**2/(va**2/(len(a)-1)+vb**2/(len(b)-1))
    d=a.mean()-b.mean(); t=stats.t.ppf(0.975,df); se=np.sqrt(va+vb)
    r=stats.ttest_ind(a,b,equal_var=False)
    print(f"welch n={len(a)},{len(b)} sum={a.sum()},{b.sum()} ss={(a*a).sum()},{(b*b).sum()}: diff={d:.10f} ci=({d-t*se:.10f},{d+t*se:.10f}) df={df:.10f} p={r.pvalue:.10g}")
welch([12,15,9,20,17],[8,11,7,10])
welch([0]*880+[5000]*60+[10000]*60,[0]*910+[5000]*50+[12000]*40)
def ss(p0,p1):
    za=stats.norm.ppf(0.975); zb=stats.norm.ppf(0.8); bar=(p0+p1)/2
    n=(za*np.sqrt(2*bar*(1-bar))+zb*np.sqrt(p0*(1-p0)+p1*(1-p1)))**2/(p1-p0)**2
    print(f"ss {p0}->{p1}: {n:.6f} -> {int(np.ceil(n))}")
ss(0.05,0.06); ss(0.10,0.12); ss(0.20,0.25); ss(0.03,0.045)
def ptb(xb,nb,xa,na):
    f=lambda x: stats.beta.pdf(x,1+xb,1+nb-xb)*stats.beta.cdf(x,1+xa,1+na-xa)
    v,e=integrate.quad(f,0,1,limit=500,points=[xa/na,xb/nb],epsabs=1e-13)
    print(f"ptb {xb}/{nb} vs {xa}/{na}: {v:.10f}")
ptb(60,500,45,500); ptb(110,1000,100,1000); ptb(3,20,1,20); ptb(50,600,50,600)
print(stats.t.ppf(0.975,7.3), stats.t.cdf(-1.5,3.2), stats.norm.cdf(1.23), stats.norm.ppf(0.01))

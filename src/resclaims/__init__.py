"""resclaims: theorems about residual networks as executable, falsifiable claims.

    >>> import resclaims
    >>> resclaims.verify("zhang2019.forward_stable")          # reference subject
    >>> resclaims.verify("zhang2019.forward_stable", "mypkg.nets:make_resnet")
    >>> resclaims.verify("zhang2019.forward_stable", resclaims.Subject(...))  # or an Adapter spec
"""
from resclaims.claim import Cite, Claim, Context, Judgement, Scale
from resclaims.engine import NotApplicable, Result, counterexample, run, verify
from resclaims.family import Adapter, Family, Subject, SubjectError
from resclaims.profiles import PROFILES, Profile

__version__ = "0.1.0"
__all__ = ["Adapter", "Cite", "Claim", "Context", "Family", "Judgement", "NotApplicable", "PROFILES", "Profile", "Result",
           "Scale", "Subject", "SubjectError", "counterexample", "run", "verify", "__version__"]

"""Participatory budgeting: pabulib I/O, exact classical rules, proportionality audits, learned rules.

The contract other code relies on::

    election = read_pabulib(path)            # Election: costs [P], budget, approvals [V, P], ...
    funded = rules.equal_shares(election)    # [P] bool (also rules.greedy, rules.phragmen)
    audit(election, funded)                  # {"ejr", "pjr", "budget_used", "covered_share", ...}
    write_pabulib(election, path)
"""

from mechjax.budgeting import rules
from mechjax.budgeting.audit import audit
from mechjax.budgeting.election import Election, make_election
from mechjax.budgeting.pabulib import read_pabulib, write_pabulib
from mechjax.budgeting.trained import load

__all__ = ["audit", "Election", "load", "make_election", "read_pabulib", "write_pabulib", "rules"]

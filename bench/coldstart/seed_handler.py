"""Runs the reference implementation's Python/boto3 payment handler for a
side-by-side measurement. The handler's source is read at run time from
the reference document (shared/seed, beside the repository), not copied
here. Prints one JSON line per invocation: status code and latency.

usage: seed_handler.py SEED_FILE INVOCATIONS
"""
import json
import re
import sys
import time
import types

source = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"## File: lib/lambda/payment_processor\.py\s+```python\n(.*?)```", source, re.S)
if not match:
    sys.exit("payment_processor.py not found in " + sys.argv[1])
module = types.ModuleType("payment_processor")
exec(compile(match.group(1), "payment_processor.py", "exec"), module.__dict__)


class Context:
    request_id = "bench"


for i in range(int(sys.argv[2])):
    start = time.perf_counter()
    out = module.handler({"payment_id": "p%d" % i, "amount": 1250, "currency": "EUR", "session_id": "s%d-%f" % (i, start)}, Context())
    print(json.dumps({"status": out["statusCode"], "ms": (time.perf_counter() - start) * 1000}), flush=True)

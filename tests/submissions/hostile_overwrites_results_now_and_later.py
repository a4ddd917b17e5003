# Tries to overwrite every results.json it can find, at once and from a detached process
# that outlives it. Neither may change a file outside the child's own folder.
import os
import time
from pathlib import Path


def vandalise():
    roots = {Path.cwd(), *Path.cwd().parents, Path("/tmp"), Path(os.path.expanduser("~"))}
    hits = 0
    for root in roots:
        for path in list(root.glob("*/results.json")) + list(root.glob("*/*/results.json")):
            try:
                path.write_text('{"score": 1000}')
                hits += 1
            except OSError:
                pass
    return hits


print("wrote", vandalise())
if os.fork() == 0:  # detach and come back after the grader thinks we are gone
    os.setsid()
    if os.fork() == 0:
        time.sleep(3)
        vandalise()
    os._exit(0)

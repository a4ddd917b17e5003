"""GitHub Classroom's autograding reporter, re-implemented from its source, to read `grade ci`'s `result` as it does."""
import base64
import json
from decimal import ROUND_HALF_UP, Decimal


def js_str(x) -> str:
    """JavaScript's `${x}` for what the reporter interpolates: numbers and undefined."""
    if x is None:
        return "undefined"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x) if isinstance(x, int) else repr(x)


def to_fixed(x: float, digits: int) -> str:
    """Number.prototype.toFixed: the exact binary value, a tie rounded up (x >= 0 here)."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def reporter(encoded: str, runner: str = "grade") -> dict:
    results = json.loads(base64.b64decode(encoded).decode("utf-8"))  # main.js
    log, passed = [], 0
    for t in results["tests"]:  # console-results.js
        line = "" if t.get("line_no") == 0 else f" - line {js_str(t.get('line_no'))}"
        if t["status"] == "pass":
            passed += 1
            log.append(f"✅ {t['name']}{line}")
        elif t["status"] == "error":
            log.append(f"Error: {t.get('message') or f'Failed to run test {t[chr(39)]}'}")
        else:
            log.append(f"❌ {t['name']}{line}")
    max_score = results.get("max_score") or 0  # getMaxScoreForTest
    score = passed / len(results["tests"]) * max_score  # getTestScore
    if max_score != 0:
        log.append(f"Total points for {runner}: {to_fixed(score, 2)}/{js_str(max_score)}")
    annotation = None
    if results.get("max_score"):  # notify-classroom.js
        total = 0
        for t in results["tests"]:
            total += t["score"]
        annotation = f"Points {js_str(total)}/{js_str(results['max_score'])}"
    return {"log": log, "table": (js_str(score), js_str(max_score)), "annotation": annotation,
            "step_failed": results["status"] in ("fail", "error")}
